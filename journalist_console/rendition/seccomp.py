"""The sandbox's seccomp filter: a classic-BPF program that bwrap loads (`--seccomp FD`) just
before it executes the converter.

The namespaces already take the network, the other processes and the host's files away; this
filter takes away the kernel interfaces a converter never needs and that a compromised
LibreOffice, poppler or Pillow would use to attack the kernel or leave the sandbox:

* mounting and namespaces: mount, umount2, pivot_root, chroot, the new mount API, unshare, setns,
  and clone with any CLONE_NEW* flag (a user namespace is the usual door to kernel bugs);
  clone3 answers ENOSYS, so the C library falls back to clone, whose flags can be checked;
* debugging other processes and reading their memory: ptrace, process_vm_readv/writev;
* kernel subsystems with a record of privilege escalations: bpf, perf_event_open, userfaultfd,
  io_uring, keyctl/add_key/request_key, fanotify, open_by_handle_at;
* the machine itself: modules, kexec, reboot, swap, clocks, host and domain names, accounting,
  quotas, the kernel log, I/O ports;
* sockets of any family but AF_UNIX (EAFNOSUPPORT): no netlink or packet sockets, and nothing
  to reach a network even if a namespace were ever shared by mistake;
* personality other than the default or a query (disabling address-space randomisation helps an
  exploit).

Refused calls fail with EPERM (the programs see an ordinary error and report it); a call from
another architecture's ABI (32-bit int 0x80, x32) kills the process, since its numbers differ.
Only x86-64 has a filter: elsewhere `program()` is None and the sandbox relies on the
namespaces, --disable-userns and the no-new-privileges bit that bwrap always sets.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
_RET_KILL_PROCESS = 0x80000000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_X32_BIT = 0x40000000
# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
# struct seccomp_data offsets: nr, arch, instruction pointer, args[6] (low half of args[0])
_NR, _ARCH, _ARG0 = 0, 4, 16

AF_UNIX = 1
CLONE_NEW_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
    | 0x00000080  # CLONE_NEWTIME
)
PERSONALITY_QUERY = 0xFFFFFFFF

# x86-64 numbers (asm/unistd_64.h).
DENIED_X86_64 = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "unshare": 272,
    "setns": 308,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "settimeofday": 164,
    "clock_settime": 227,
    "adjtimex": 159,
    "clock_adjtime": 305,
    "sethostname": 170,
    "setdomainname": 171,
    "acct": 163,
    "quotactl": 179,
    "syslog": 103,
    "iopl": 172,
    "ioperm": 173,
    "uselib": 134,
    "vhangup": 153,
    "lookup_dcookie": 212,
}
SOCKET_X86_64 = 41
CLONE_X86_64 = 56
CLONE3_X86_64 = 435
PERSONALITY_X86_64 = 135


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _errno(number: int) -> int:
    return _RET_ERRNO | number


def _program_x86_64() -> bytes:
    ops = [
        _op(_LD_W_ABS, _ARCH),
        _op(_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        _op(_RET_K, _RET_KILL_PROCESS),  # another ABI: its syscall numbers mean other calls
        _op(_LD_W_ABS, _NR),
        _op(_JGE_K, _X32_BIT, 0, 1),
        _op(_RET_K, _RET_KILL_PROCESS),  # the x32 ABI
    ]
    for number in sorted(DENIED_X86_64.values()):
        ops += [_op(_JEQ_K, number, 0, 1), _op(_RET_K, _errno(errno.EPERM))]
    ops += [_op(_JEQ_K, CLONE3_X86_64, 0, 1), _op(_RET_K, _errno(errno.ENOSYS))]
    # The argument checks load args[0] into the accumulator: each block ends in a return.
    ops += [
        _op(_JEQ_K, SOCKET_X86_64, 0, 4),
        _op(_LD_W_ABS, _ARG0),
        _op(_JEQ_K, AF_UNIX, 1, 0),
        _op(_RET_K, _errno(errno.EAFNOSUPPORT)),
        _op(_RET_K, _RET_ALLOW),
        _op(_JEQ_K, CLONE_X86_64, 0, 4),
        _op(_LD_W_ABS, _ARG0),
        _op(_JSET_K, CLONE_NEW_FLAGS, 0, 1),
        _op(_RET_K, _errno(errno.EPERM)),
        _op(_RET_K, _RET_ALLOW),
        _op(_JEQ_K, PERSONALITY_X86_64, 0, 5),
        _op(_LD_W_ABS, _ARG0),
        _op(_JEQ_K, 0, 2, 0),
        _op(_JEQ_K, PERSONALITY_QUERY, 1, 0),
        _op(_RET_K, _errno(errno.EPERM)),
        _op(_RET_K, _RET_ALLOW),
        _op(_RET_K, _RET_ALLOW),
    ]
    return b"".join(ops)


def program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, as bwrap reads it; None when there is none."""
    if (machine or platform.machine()) in ("x86_64", "AMD64", "amd64"):
        return _program_x86_64()
    return None
