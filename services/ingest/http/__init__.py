"""The write API: one router per resource, built into an app by `app.create_app`."""
