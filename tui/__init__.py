"""The Textual app and the click CLI: thin views over the controller."""
