"""Tests that drive a real Chromium (Debian's /usr/bin/chromium) through Playwright."""
