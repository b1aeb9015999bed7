"""The write API: one router per resource."""
