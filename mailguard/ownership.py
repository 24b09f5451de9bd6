"""A command run by root that writes state acts as the owner of the state folder.

The service runs as the `mailguard` system user that owns /var/lib/mailguard (.ci/install). Run
as root, `mailguard train` would write the model, `quarantine release` the store's -wal file, as
root:root 0640, which the service can then not read or write. So the commands that open the store
or write the model first become the folder's owner — user, group and supplementary groups, for
good — as Postfix's postmap becomes the owner of the file it reads. Every file they make, now or
in later code, then belongs to the service; and a root process never creates files in a folder a
less trusted user controls, where a planted symlink could send its writes elsewhere (chown after
the fact would keep both problems).
"""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StateOwner:
    uid: int
    gid: int
    name: str  # the user's name, or the uid as text when no user has it


def act_as_state_owner(state_dir: Path) -> StateOwner | None:
    """Become the owner of `state_dir` when running as root and another user owns it; None when
    nothing changed (not root, no such folder yet, or root owns it)."""
    if os.geteuid() != 0:
        return None
    try:
        st = os.stat(state_dir)
    except OSError:
        return None  # the command reports a folder it cannot use as it always did
    if st.st_uid == 0:
        return None
    try:
        name = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        name = str(st.st_uid)
        os.setgroups([])
    else:
        os.initgroups(name, st.st_gid)
    # As root these set the real, effective and saved ids: there is no way back.
    os.setgid(st.st_gid)
    os.setuid(st.st_uid)
    return StateOwner(st.st_uid, st.st_gid, name)
