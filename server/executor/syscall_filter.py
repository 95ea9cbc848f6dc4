"""The seccomp allow-list a sandboxed process installs last, just before the program runs.

Only the system calls that NumPy and the Python runtime need to compute on memory already mapped
are allowed: reading and writing open descriptors, memory management, signals of its own, clocks,
and file calls that can only reach the sandbox's own empty root. Everything else fails with EPERM:
no new process, thread or namespace (``clone3`` answers ENOSYS, so its flags, which a filter cannot
read, never reach the kernel), no signal to another process, no ``ptrace``, ``process_vm_*``,
``keyctl``, ``bpf``, ``io_uring``, ``userfaultfd``, ``perf_event_open``, SysV or POSIX IPC,
sockets, mounts, ``chroot`` or change of user. ``prlimit64`` only concerns the process itself,
``prctl`` only reads, ``ioctl`` answers ENOTTY, and ``fcntl`` takes only the commands the runtime
uses (``FCNTL_COMMANDS``; ``F_SETFL`` without ``O_ASYNC``): no ``F_SETOWN``, ``F_SETSIG``,
``F_SETLEASE`` or ``F_NOTIFY``, through which the kernel would signal another process for it. The
filter is built with libseccomp (through pyseccomp, a ctypes binding of the system's libseccomp.so.2)
for the machine's architecture; calls of another architecture's ABI (x32, i386) kill the process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import tempfile

ALLOWED = (
    # descriptors the process already holds, and files in its private root
    "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close",
    "fstat", "newfstatat", "stat", "lstat", "statx", "openat", "open", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getcwd", "getdents64", "mkdir", "mkdirat", "unlink",
    "unlinkat", "rename", "renameat", "renameat2", "ftruncate", "fsync", "fdatasync",
    "poll", "ppoll", "select", "pselect6",
    # memory
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "msync", "mincore",
    # its own signals, identity, limits and clocks
    "futex", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
    "exit", "exit_group", "getpid", "gettid", "getppid", "getpgrp", "getsid", "getuid", "geteuid",
    "getgid", "getegid", "getgroups", "getresuid", "getresgid", "getrlimit", "getrusage", "times",
    "sysinfo", "uname", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
    "gettimeofday", "time", "sched_yield", "sched_getaffinity", "getrandom", "capget",
)  # fmt: skip
"""System calls allowed with any arguments (names unknown to an architecture are skipped)."""
READ_ONLY_PRCTL = (3, 21, 23, 27, 39)
"""PR_GET_DUMPABLE, PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_SECUREBITS, PR_GET_NO_NEW_PRIVS."""
F_SETFL = 4
FCNTL_COMMANDS = (0, 1, 2, 3, 1030)
"""F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_DUPFD_CLOEXEC: what Python, NumPy and the runtime call (traced);
F_SETFL is allowed too, without ``O_ASYNC``. Every other command fails with EPERM."""


PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_INSTRUCTION = struct.Struct("HBBI")
"""One classic BPF instruction (struct sock_filter): 8 bytes."""
_libc = ctypes.CDLL(None, use_errno=True)


class FilterUnavailableError(RuntimeError):
    """libseccomp could not be loaded or refused the filter."""


def build() -> bytes:
    """The filter as a BPF program, built once per worker; ``install`` it in each process it confines.

    Raises:
        FilterUnavailableError: libseccomp is missing (install the system's libseccomp2 package).
    """
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError, RuntimeError) as exc:
        raise FilterUnavailableError(
            f"the system call filter needs libseccomp ({exc}); install the libseccomp2 package "
            "(Debian and Ubuntu: `apt install libseccomp2`; Fedora: `dnf install libseccomp`)"
        ) from exc
    rules = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    for name in ALLOWED:
        _add(seccomp, rules, seccomp.ALLOW, name)
    _add(seccomp, rules, seccomp.ALLOW, "prlimit64", seccomp.Arg(0, seccomp.EQ, 0))
    for option in READ_ONLY_PRCTL:
        _add(seccomp, rules, seccomp.ALLOW, "prctl", seccomp.Arg(0, seccomp.EQ, option))
    for command in FCNTL_COMMANDS:
        _add(seccomp, rules, seccomp.ALLOW, "fcntl", seccomp.Arg(1, seccomp.EQ, command))
    _add(seccomp, rules, seccomp.ALLOW, "fcntl", seccomp.Arg(1, seccomp.EQ, F_SETFL),
         seccomp.Arg(2, seccomp.MASKED_EQ, os.O_ASYNC, 0))  # fmt: skip
    _add(seccomp, rules, seccomp.ERRNO(errno.ENOTTY), "ioctl")
    _add(seccomp, rules, seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as out:  # libseccomp writes the compiled program to a descriptor
        rules.export_bpf(out)
        out.seek(0)
        program = out.read()
    if not program or len(program) % _INSTRUCTION.size:
        raise FilterUnavailableError("libseccomp produced no system call filter")
    return program


def _add(seccomp: object, rules: object, action: int, name: str, *args: object) -> None:
    try:
        rules.add_rule(action, name, *args)  # type: ignore[attr-defined]
    except (ValueError, OSError, RuntimeError) as exc:
        if _known(seccomp, name):
            raise FilterUnavailableError(f"libseccomp refused the rule for {name}: {exc}") from exc


def _known(seccomp: object, name: str) -> bool:
    try:
        return int(seccomp.resolve_syscall(seccomp.system_arch(), name)) >= 0  # type: ignore[attr-defined]
    except (ValueError, OSError, RuntimeError):
        return False


class _Program(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install(program: bytes) -> None:
    """Install a filter from ``build`` in this process, for good (no_new_privs must already be set).

    Loading the ready program costs microseconds; compiling it with libseccomp in every sandbox
    would cost milliseconds.
    """
    buffer = ctypes.create_string_buffer(program, len(program))
    header = _Program(len(program) // _INSTRUCTION.size, ctypes.cast(buffer, ctypes.c_void_p))
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(header), 0, 0) != 0:
        code = ctypes.get_errno()
        raise FilterUnavailableError(f"installing the system call filter failed: {os.strerror(code)} (errno {code})")


def active() -> bool:
    """Whether a filter confines this process."""
    return bool(_libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == SECCOMP_MODE_FILTER)
