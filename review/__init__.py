"""The coordinators' review desk: server-rendered pages served by the daemon."""
