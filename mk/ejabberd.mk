# ejabberd (Debian 12: 23.01) for tests/test_ejabberd.py and `make bench`'s
# ejabberd rows: installed by `make deps` with the other packages, as
# Prosody is (RUNLEVEL=1, and the policy-rc.d of a container, keep Debian's
# scripts from starting the system's service).  The tests start their own
# ejabberd, without Erlang distribution, so no epmd either (tests/ejabberd.py).
APT_PACKAGES += ejabberd
