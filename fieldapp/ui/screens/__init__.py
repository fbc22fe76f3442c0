"""The app's screens, one a module, drawn from `AppState` (see `shell.Shell`)."""
