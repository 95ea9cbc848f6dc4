"""The operating-system sandbox a program's process enters before any program code runs.

Layers, in the order they are entered (the process is root until the last step):

1. its own session and process group, so a timeout kills everything it started;
2. its own network namespace (only an unconfigured loopback: no connection leaves);
3. its own mount namespace with an empty tmpfs as root (``chroot``): no file of the host is
   visible, neither the database, the ground truth, the user's home nor ``/proc``; the only
   writable place is ``/scratch`` (size-bounded);
4. resource limits: CPU seconds, address space, file size, processes, open files, no core dumps;
5. an unprivileged user (``nobody``), with no way back (no new privileges).

Everything the program needs (the log's arrays, the map, the runtime) is loaded before step 3.
Where a layer cannot be entered, ``Layers`` says so; the executor refuses to run untrusted code
unless every layer is active, unless the operator allowed fewer explicitly.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from dataclasses import dataclass, fields
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
NOBODY = 65534

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program run on one log."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_bytes: int = 4 << 30
    """Address space the program may add to what the warm worker already maps."""
    file_bytes: int = 16 << 20
    scratch_bytes: int = 32 << 20
    processes: int = 1
    open_files: int = 64
    stdout_chars: int = 64 << 10
    result_bytes: int = 16 << 20


@dataclass(frozen=True)
class Layers:
    """Which sandbox layers a run actually entered."""

    process_group: bool = False
    network_namespace: bool = False
    private_root: bool = False
    rlimits: bool = False
    unprivileged_user: bool = False
    no_new_privileges: bool = False

    def missing(self) -> list[str]:
        """Names of the layers that are not active."""
        return [f.name for f in fields(self) if not getattr(self, f.name)]


class SandboxError(Exception):
    """A sandbox layer could not be entered."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SandboxError(f"{what} failed: {os.strerror(errno)} (errno {errno})")


def _address_space_in_use() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_namespaces_entered = False


def enter_namespaces() -> None:
    """Move this process into new network and mount namespaces (private mounts).

    A worker calls this once at start-up, so its forks inherit them: creating a network namespace
    costs tens of milliseconds, too much to pay per program. The worker only reads local files.
    """
    global _namespaces_entered
    if not _namespaces_entered:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare(network and mount namespaces)")
        _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making mounts private")
        _namespaces_entered = True


def enter(mount_point: Path, limits: Limits) -> Layers:
    """Enter every layer; call in a freshly forked child, as root, before untrusted code runs.

    Args:
        mount_point: an empty directory to mount the private root on (created by the parent).
        limits: the resource limits.

    Raises:
        SandboxError: a layer could not be entered (the caller must not run the program).
    """
    parent = os.getppid()
    os.setsid()
    enter_namespaces()  # the network namespace is inherited from the worker when it entered it at start-up
    # a mount namespace of its own, so the private root never shows in the worker's (or leaks from it)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(mount namespace)")
    options = f"size={limits.scratch_bytes},mode=755".encode()
    _check(
        _libc.mount(b"tmpfs", str(mount_point).encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options),
        "mounting the private root",
    )
    scratch = mount_point / "scratch"
    scratch.mkdir()
    os.chown(scratch, NOBODY, NOBODY)
    in_use = _address_space_in_use()
    os.chroot(mount_point)
    os.chdir("/")
    # the soft CPU limit sends SIGXCPU (which stops the process: no core, RLIMIT_CORE is 0); the hard one kills
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    for limit, value in (
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_AS, in_use + limits.memory_bytes),
    ):
        resource.setrlimit(limit, (value, value))
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no new privileges)")
    # set last (a change of user clears it): a killed worker (a cancelled run) takes its program with it
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(parent-death signal)")
    if os.getppid() != parent:  # the worker died before the signal was armed
        os._exit(1)
    return verify()


def verify() -> Layers:
    """Observe, from inside, which layers are in force."""
    import socket

    network = False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            probe.connect(("127.0.0.1", 9))
    except OSError as exc:
        network = exc.errno in (101, 99)  # ENETUNREACH / EADDRNOTAVAIL: loopback is down in a new namespace
    return Layers(
        process_group=os.getpgid(0) == os.getpid(),
        network_namespace=network,
        private_root=not Path("/proc/self").exists() and not Path("/etc").exists(),
        rlimits=resource.getrlimit(resource.RLIMIT_NPROC)[0] != resource.RLIM_INFINITY
        and resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY,
        unprivileged_user=os.getuid() == NOBODY and os.geteuid() == NOBODY,
        no_new_privileges=_libc.prctl(39, 0, 0, 0, 0) == 1,  # PR_GET_NO_NEW_PRIVS
    )
