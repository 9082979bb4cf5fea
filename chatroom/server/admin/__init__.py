"""`chatroom-admin`: running a class from the command line, on a server's data directory,
whether the server is running or not (`cli`), with the roster import (`roster`), what it
reads and lists (`reports`), transcripts (`export`), and backups (`backup`)."""
