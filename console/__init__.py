"""privacyctl, the console of the privacy service."""

import os

# Before anything imports grpc: its fork handlers are for processes that go on using
# gRPC after a fork, which ours never do; at exit, when pgserver forks `pg_ctl stop`
# for the embedded database, they would print a line of their own among the JSON log
# lines ("Other threads are currently calling into gRPC, skipping fork() handlers").
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
