"""The namespaces a worker process enters once, at start-up, before it loads any log.

A worker lives in its own network, UTS, IPC, mount and PID namespaces; where it does not run as
root it first creates a user namespace (mapping the caller's uid and gid to themselves, the only
mapping an unprivileged process may write), which gives it the capabilities it needs inside to
create the others, mount the sandboxes' private roots and ``chroot``; it holds none outside.

A new PID namespace only takes effect for children, so the process that unshares it (the
*launcher*, the process the executor started) forks once: the child is the worker proper and PID 1
of the namespace. Every sandbox it forks lives in that namespace and sees no process of the host,
of another worker or of another avmine server; the launcher only waits for the worker and passes
on its exit status, and the worker dies with it (parent-death signal), taking every sandbox with
it (the kernel kills a PID namespace whose first process is gone).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
NAMESPACES = ("user", "net", "uts", "ipc", "mnt", "pid")
SANDBOX_UID_BASE = 0x3E000000
"""Root mode: a worker's sandboxes run as this plus the launcher's pid, a uid no account or other worker has."""

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxUnavailableError(RuntimeError):
    """The kernel refused a namespace: no program may run here until the operator changes that."""


@dataclass(frozen=True)
class Identity:
    """Who a worker's sandboxes are and what they were separated from."""

    root_mode: bool
    """The worker runs as root: sandboxes get a uid of their own instead of a user namespace."""
    host_pid: int
    """The launcher's pid on the host: names the worker's files (inside, the worker is pid 1)."""
    sandbox_uid: int
    sandbox_gid: int
    host_namespaces: dict[str, int] = field(default_factory=dict)
    """Inode of each namespace the launcher started in: a sandbox proves it left each one."""


def namespace_ids(pid: str = "self") -> dict[str, int]:
    """The inode numbers of a process's namespaces (equal numbers: the same namespace)."""
    ids: dict[str, int] = {}
    for name in NAMESPACES:
        try:
            ids[name] = os.stat(f"/proc/{pid}/ns/{name}").st_ino
        except OSError:
            continue
    return ids


def die_with_parent(parent: int | None) -> None:
    """Have the kernel SIGKILL this process when its parent dies; exit at once if it already has.

    Call first thing in a freshly forked child. The signal fires when the *thread* that forked this
    process ends, so fork from a thread that outlives the child (the main thread, or the one that
    also waits for it). ``parent``: the parent's pid as this process sees it, compared once the
    signal is armed (a parent that died just before is missed by it); None where the parent cannot
    be seen (the first process of a new PID namespace sees 0).
    """
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(1)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _unshare(flags: int, what: str, root_mode: bool = False) -> None:
    if _libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise SandboxUnavailableError(_explain(what, errno, root_mode))


CAP_SYS_ADMIN = 21


def has_capability(bit: int, pid: str = "self") -> bool:
    """Whether a process holds a capability in its effective set (``CapEff`` of ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def _explain(what: str, errno: int, root_mode: bool = False) -> str:
    failed = (
        f"avmine cannot isolate programs on this machine: creating {what} failed with "
        f"{os.strerror(errno)} (errno {errno}), so no program will run (nothing is wrong with the program). "
    )
    if root_mode:  # root creates the namespaces itself: user namespaces are not involved, CAP_SYS_ADMIN is
        if not has_capability(CAP_SYS_ADMIN):
            return failed + (
                "this process runs as root, and as root avmine's sandbox creates the namespaces directly, which needs "
                "the capability CAP_SYS_ADMIN; this process lacks it (a container started without it, or a "
                "capability bounding set that drops it). Give it CAP_SYS_ADMIN (Docker: `--cap-add SYS_ADMIN`), "
                "or run avmine as an ordinary user where unprivileged user namespaces are allowed (its sandbox "
                "uses those instead; check with `unshare -Urnm true` as that user). Check root's with "
                "`unshare -nm true` (it fails where avmine's sandbox would)."
            )
        return failed + (
            "this process runs as root with CAP_SYS_ADMIN, so something else refused the namespaces: in a "
            "container, a seccomp profile that blocks unshare and clone of namespaces (Docker: "
            "`--security-opt seccomp=unconfined`), or a security module (AppArmor, SELinux) policy. "
            "Check with `unshare -nm true` as the same user."
        )
    return failed + (
        "avmine's sandbox needs Linux user namespaces when it does not run as root. To allow them: on "
        "Debian and older Ubuntu `sysctl -w kernel.unprivileged_userns_clone=1`; everywhere "
        "`sysctl -w user.max_user_namespaces=15000` if it is 0; on Ubuntu 23.10 and later "
        "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile that allows "
        "userns for the Python interpreter); in a container, run it with a seccomp profile that allows "
        "unshare and clone of namespaces (Docker: `--security-opt seccomp=unconfined`, or as root with "
        "`--cap-add SYS_ADMIN`). Check with `unshare -Urnm true`."
    )


def enter_worker_namespaces() -> Identity:
    """Enter the worker's namespaces; returns in the worker proper (PID 1 of its namespace).

    The calling process becomes the launcher: it never returns from here, it waits for the worker
    and exits with its status.

    Raises:
        SandboxUnavailableError: the kernel refused a namespace (the message says what to change).
    """
    host_pid = os.getpid()
    host_namespaces = namespace_ids()
    uid, gid = os.getuid(), os.getgid()
    root_mode = uid == 0
    if root_mode:
        sandbox_uid = sandbox_gid = SANDBOX_UID_BASE + host_pid
    else:
        _unshare(CLONE_NEWUSER, "a user namespace")
        try:  # the only mapping an unprivileged process may write: its own ids, to themselves
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        except OSError as exc:
            raise SandboxUnavailableError(_explain("the user namespace's id maps", exc.errno or 0)) from exc
        sandbox_uid, sandbox_gid = uid, gid
    _unshare(
        CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID,
        "network, mount, PID, IPC and UTS namespaces",
        root_mode,
    )
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise SandboxUnavailableError(_explain("private mounts", ctypes.get_errno(), root_mode))
    alive_read, alive_write = os.pipe()  # the launcher holds the write end until it dies
    pid = os.fork()
    if pid:
        os.close(alive_read)
        _wait_and_exit(pid, os.getppid())
    os.close(alive_write)
    die_with_parent(None)
    if select.select([alive_read], [], [], 0)[0]:  # end of file: the launcher died before the signal was armed
        os._exit(1)
    os.close(alive_read)
    return Identity(root_mode, host_pid, sandbox_uid, sandbox_gid, host_namespaces)


LAUNCHER_POLL_SECONDS = 0.5
"""How often a launcher checks that the process that started it is still there."""


def _wait_and_exit(pid: int, parent: int) -> None:
    """The launcher's whole life after the fork: wait for the worker, exit as it did.

    When the process that started it (the executor, a Ray actor) dies, the launcher kills the
    worker and with it every sandbox: a job in flight must not outlive the server. It polls for
    that instead of a parent-death signal, which would fire when the *thread* that started it ends.
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if os.getppid() != parent:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        select.select([], [], [], LAUNCHER_POLL_SECONDS)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)
