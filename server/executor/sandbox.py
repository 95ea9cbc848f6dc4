"""The operating-system sandbox a program's process enters before any program code runs.

This boundary must hold on its own, as if the program had real ``os`` and ``ctypes``. The worker
already lives in its own user (when not root), network, UTS and PID namespaces
(``avmine.server.executor.namespaces``); each program's process, forked from it, then enters in order:

1. its own session and process group, so a timeout kills everything it started;
2. its own mount and IPC namespaces, with an empty tmpfs as root (``chroot``): no file of the host
   is visible, neither the database, the ground truth, the user's home nor ``/proc``; the only
   writable place is ``/scratch`` (size-bounded); SysV objects die with it;
3. resource limits: CPU seconds, address space, file size, processes, open files, no core dumps;
4. no capabilities in any set, secure bits locked, and, where the worker is root, a uid of the
   worker's own that no account or other worker has; no new privileges;
5. a seccomp allow-list of system calls (``avmine.server.executor.syscall_filter``).

Everything the program needs (the log's arrays, the map, the runtime) is loaded before step 2.
Where a layer cannot be entered, ``Layers`` says so; the executor refuses to run untrusted code
unless every layer is active, unless the operator allowed fewer explicitly.
"""

from __future__ import annotations

import ctypes
import os
import resource
from dataclasses import dataclass, fields, replace
from pathlib import Path

from avmine.server.executor import privileges, syscall_filter
from avmine.server.executor.namespaces import (
    CLONE_NEWIPC,
    CLONE_NEWNS,
    SANDBOX_UID_BASE,
    Identity,
    die_with_parent,
    namespace_ids,
)

MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39

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
    """Which sandbox layers a run actually entered, observed from inside."""

    mode: str = "unknown"
    """``root`` (the worker is root: a uid of its own) or ``user-namespace`` (an ordinary user)."""
    process_group: bool = False
    user_namespace: bool = False
    network_namespace: bool = False
    pid_namespace: bool = False
    ipc_namespace: bool = False
    uts_namespace: bool = False
    private_root: bool = False
    rlimits: bool = False
    unprivileged_user: bool = False
    distinct_uid: bool = False
    no_capabilities: bool = False
    no_new_privileges: bool = False
    syscall_filter: bool = False

    def missing(self) -> list[str]:
        """Names of the layers that are not active (those the mode does not use are not counted)."""
        unused = {"root": "user_namespace", "user-namespace": "distinct_uid"}.get(self.mode)
        return [f.name for f in fields(self) if f.name != "mode" and f.name != unused and not getattr(self, f.name)]


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


@dataclass(frozen=True)
class Confinement:
    """What a worker prepares once for all its sandboxes."""

    identity: Identity
    worker_namespaces: dict[str, int]
    """The worker's own namespaces: each sandbox must have left its mount and IPC namespaces too."""
    syscall_filter: bytes
    last_capability: int


def prepare(identity: Identity) -> Confinement:
    """Everything a sandbox needs that is costly to make: call once in the worker, after its namespaces.

    Raises:
        SandboxError: the system call filter cannot be built (libseccomp is missing).
    """
    try:
        program = syscall_filter.build()
    except syscall_filter.FilterUnavailableError as exc:
        raise SandboxError(str(exc)) from exc
    return Confinement(identity, namespace_ids(), program, privileges.last_capability())


def enter(mount_point: Path, limits: Limits, confinement: Confinement, runs: int = 1) -> Layers:
    """Enter every layer; call in a freshly forked child of the worker, before untrusted code runs.

    Args:
        mount_point: an empty directory to mount the private root on (created by the parent).
        limits: the resource limits.
        confinement: what the worker prepared (``prepare``).
        runs: how many logs the child runs, one after the other: the hard CPU limit covers them all
            (the soft limit, ``limits.cpu_seconds``, is set again before each log; the worker's
            wall-clock limit per log stops a program that ignores it).

    Raises:
        SandboxError: a layer could not be entered (the caller must not run the program).
    """
    identity = confinement.identity
    parent = os.getppid()
    os.setsid()
    # a mount namespace of its own (the private root never shows in the worker's), and an IPC one:
    # SysV queues and shared memory die with the program instead of reaching the next one
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(mount and IPC namespaces)")
    options = f"size={limits.scratch_bytes},mode=555".encode()  # read-only root, even for its owner
    _check(
        _libc.mount(b"tmpfs", str(mount_point).encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options),
        "mounting the private root",
    )
    scratch = mount_point / "scratch"
    scratch.mkdir()
    os.chown(scratch, identity.sandbox_uid, identity.sandbox_gid)
    in_use = _address_space_in_use()
    namespaces = namespace_ids()  # read now: /proc is gone once the private root is entered
    os.chroot(mount_point)
    os.chdir("/")
    # the soft CPU limit sends SIGXCPU (which stops the process: no core, RLIMIT_CORE is 0); the hard one kills
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, (limits.cpu_seconds + 1) * runs))
    for limit, value in (
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_AS, in_use + limits.memory_bytes),
    ):
        resource.setrlimit(limit, (value, value))
    try:
        privileges.lock_down(confinement.last_capability)
        if identity.root_mode:  # a uid no other process has: nothing to signal, trace or share files with
            os.setgroups([])
            os.setresgid(identity.sandbox_gid, identity.sandbox_gid, identity.sandbox_gid)
            os.setresuid(identity.sandbox_uid, identity.sandbox_uid, identity.sandbox_uid)
        privileges.drop_all()
    except OSError as exc:
        raise SandboxError(str(exc)) from exc
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no new privileges)")
    # set last (a change of user clears it): a killed worker (a cancelled run) takes its program with it
    die_with_parent(parent)
    layers = verify(confinement, namespaces)  # before the filter: the network probe needs a socket
    try:
        syscall_filter.install(confinement.syscall_filter)
    except syscall_filter.FilterUnavailableError as exc:
        raise SandboxError(str(exc)) from exc
    return replace(layers, syscall_filter=syscall_filter.active())


def verify(confinement: Confinement, namespaces: dict[str, int]) -> Layers:
    """Observe, from inside, which layers are in force.

    Args:
        confinement: what the worker prepared.
        namespaces: this process's namespaces, read before its root went private.
    """
    import socket

    identity = confinement.identity
    host, worker = identity.host_namespaces, confinement.worker_namespaces

    def left(name: str, of: dict[str, int]) -> bool:
        return name in namespaces and name in of and namespaces[name] != of[name]

    network = False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            probe.connect(("127.0.0.1", 9))
    except OSError as exc:
        network = exc.errno in (101, 99)  # ENETUNREACH / EADDRNOTAVAIL: loopback is down in a new namespace
    uid, euid = os.getuid(), os.geteuid()
    return Layers(
        mode="root" if identity.root_mode else "user-namespace",
        process_group=os.getpgid(0) == os.getpid(),
        user_namespace=left("user", host),
        network_namespace=network and left("net", host),
        pid_namespace=left("pid", host),
        ipc_namespace=left("ipc", host) and left("ipc", worker),
        uts_namespace=left("uts", host),
        private_root=left("mnt", worker) and not Path("/proc/self").exists() and not Path("/etc").exists(),
        rlimits=resource.getrlimit(resource.RLIMIT_NPROC)[0] != resource.RLIM_INFINITY
        and resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY,
        unprivileged_user=uid != 0 and euid != 0,
        distinct_uid=identity.root_mode and uid == euid == identity.sandbox_uid >= SANDBOX_UID_BASE,
        no_capabilities=privileges.holds_none(confinement.last_capability),
        no_new_privileges=_libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1,
    )
