"""Machine code of a compiled kernel, read from ``cuobjdump -sass``: instructions, loops, and
the count of a loop's instructions by class (what the GPU cost model projects from)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")
_TARGET = re.compile(r"0x([0-9a-f]+)")


@dataclass(frozen=True)
class Instruction:
    address: int
    opcode: str          # with modifiers, e.g. "IMAD.WIDE.U32"
    operands: str
    predicated: bool

    @property
    def base(self) -> str:
        return self.opcode.split(".")[0]

    def branch_target(self) -> int | None:
        if self.base in ("BRA", "JMP"):
            m = _TARGET.search(self.operands)
            return int(m.group(1), 16) if m else None
        return None


def functions(sass: str) -> dict[str, list[Instruction]]:
    """The instructions of every function in a ``cuobjdump -sass`` listing."""
    out: dict = {}
    current = None
    for line in sass.splitlines():
        head = re.match(r"\s*Function : (\S+)", line)
        if head:
            current = out.setdefault(head.group(1), [])
            continue
        m = _LINE.search(line)
        if m and current is not None:
            current.append(Instruction(int(m.group(1), 16), m.group(3), m.group(4).strip(),
                                       bool(m.group(2))))
    return out


@dataclass(frozen=True)
class Loop:
    start: int           # the address a backward branch jumps to
    end: int             # the branch's address

    def contains(self, other: "Loop") -> bool:
        return self.start <= other.start and other.end <= self.end and self != other

    def body(self, code: list[Instruction]) -> list[Instruction]:
        return [i for i in code if self.start <= i.address <= self.end]


def loops(code: list[Instruction]) -> list[Loop]:
    """Every backward branch as a loop (start, end), outermost first."""
    found = {Loop(t, i.address) for i in code
             if (t := i.branch_target()) is not None and t <= i.address}
    return sorted(found, key=lambda lp: (lp.start, -lp.end))


# instruction classes; the first rule that matches wins
def classify(i: Instruction) -> str:
    op, base = i.opcode, i.base
    if base == "NOP":
        return "nop"
    if base in ("LDL", "STL"):
        return "local"
    if base in ("LDG", "STG", "LDS", "STS", "LD", "ST", "ATOM", "ATOMG", "RED", "ATOMS",
                "LDGSTS"):
        width = next((w for w in ("128", "64") if f".{w}" in op), "32")
        return f"{base}.{width}"
    if base in ("CALL", "RET"):
        return "call"
    if base in ("BRA", "BRX", "JMP", "JMX", "BSSY", "BSYNC", "EXIT", "WARPSYNC", "BREAK",
                "BMOV", "YIELD", "KILL"):
        return "branch"
    if base == "MUFU":
        return "mufu"
    if base in ("DADD", "DMUL", "DFMA", "DSETP", "DMNMX", "DSET"):
        return "fp64"
    if base in ("F2F", "F2I", "I2F", "I2FP", "F2IP", "FRND", "I2I", "F2FP"):
        return "conversion"
    if base in ("FADD", "FMUL", "FFMA", "FSETP", "FMNMX", "FSEL", "FSET", "FCHK", "FSWZADD",
                "FADD32I", "FMUL32I", "FFMA32I"):
        return "fp32"
    if base.startswith("U") or base in ("S2UR", "R2UR"):
        return "uniform"           # the uniform datapath: one per warp, still an issue slot
    if base in ("IADD3", "IMAD", "ISETP", "LOP3", "SHF", "LEA", "SEL", "IMNMX", "IABS", "POPC",
                "FLO", "BMSK", "PRMT", "VIADD", "VIMNMX", "IADD", "IMUL", "ISCADD", "SHL",
                "SHR", "LOP", "BREV", "IDP", "VIADDMNMX", "IADD32I", "LOP32I", "IMAD32I",
                "ISETP32I"):
        wide = any(m in op for m in (".WIDE", ".X", ".EX", ".64", ".HI.X")) or \
            (base == "SHF" and ".64" in op)
        return "int64" if wide else "int"
    if base in ("MOV", "MOV32I", "S2R", "CS2R", "PLOP3", "P2R", "R2P", "SHFL", "VOTE", "VOTEU",
                "LDC", "BAR", "DEPBAR", "MEMBAR", "ERRBAR", "CCTL", "FENCE", "MATCH", "REDUX"):
        return "other"
    return "other"


def count(code: list[Instruction], weights: dict | None = None) -> Counter:
    """Instructions by class; ``weights`` maps an address to how many times it runs."""
    c: Counter = Counter()
    for i in code:
        k = classify(i)
        if k != "nop":
            c[k] += (weights or {}).get(i.address, 1)
    return +c          # (classes that only ran zero times dropped)


def blocks(code: list[Instruction]) -> list[list[Instruction]]:
    """Basic blocks: split before every branch target and after every branch."""
    targets = {t for i in code if (t := i.branch_target()) is not None}
    out: list[list[Instruction]] = []
    cur: list[Instruction] = []
    for i in code:
        if i.address in targets and cur:
            out.append(cur)
            cur = []
        cur.append(i)
        if i.base in ("BRA", "BRX", "JMP", "EXIT", "CALL", "RET"):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def guarded(code: list[Instruction], call: Instruction) -> bool:
    """Whether a conditional branch since the enclosing divergence region (``BSSY``) or the
    last join point can jump over ``call``: a libm slow path taken for rare arguments
    (division fix-ups, Payne-Hanek reduction), as opposed to a subroutine every evaluation
    calls (double ``pow``'s core)."""
    joins = {t for i in code if (t := i.branch_target()) is not None}
    for i in reversed([i for i in code if i.address < call.address]):
        if i.base == "BSSY":
            return False
        t = i.branch_target()
        if t is not None and t > call.address and (
                i.predicated or re.match(r"!?U?P[T0-9]", i.operands)):
            return True
        if i.address in joins:      # a loop head or a join: every path comes through here
            return False
    return False


def out_of_line(code: list[Instruction], call: Instruction) -> bool:
    """Whether ``call`` runs one of gpusched's out-of-line recomputations (their callee holds
    the PMTRIG that GS_MODEL_MARK_COLD puts there, kernels/gpusched.cuh)."""
    return any(i.base == "PMTRIG" for i in callee(code, call))


def marked_region(code: list[Instruction], begin: int, end: int) -> set:
    """Addresses from a ``PMTRIG begin`` to the next ``PMTRIG end`` (performance-monitor
    triggers the model's build places around a stretch of code: kernels/gpusched.cuh,
    GS_STEPWISE_BEGIN/END, triggers 6 and 5 as the bit masks 0x40 and 0x20); empty without
    them."""
    out: set = set()
    inside = False
    for i in code:
        if i.base == "PMTRIG" and _mask(i) == begin:
            inside = True
        elif i.base == "PMTRIG" and _mask(i) == end:
            inside = False
        if inside:
            out.add(i.address)
    return out


def _mask(i: Instruction) -> int | None:
    m = re.match(r"\s*(0x[0-9a-fA-F]+|\d+)", i.operands)
    return int(m.group(1), 0) if m else None


def _target(call: Instruction) -> int | None:
    m = _TARGET.search(call.operands)
    return int(m.group(1), 16) if m else None


def subroutine(code: list[Instruction], call: Instruction) -> bool:
    """Whether ``call`` enters a subroutine (laid out after the kernel's last ``EXIT``), not
    a call-return idiom inside the kernel's own code (sm_89 leaves loops that way)."""
    target = _target(call)
    ends = [i.address for i in code if i.base == "EXIT"]
    return target is not None and bool(ends) and target > max(ends)


def callee(code: list[Instruction], call: Instruction) -> list[Instruction]:
    """The subroutine ``call`` runs: from its target to its first ``RET`` (nothing when it
    is not a subroutine call, see :func:`subroutine`)."""
    if not subroutine(code, call):
        return []
    target, out = _target(call), []
    assert target is not None       # a subroutine call has a target
    for i in code:
        if i.address >= target:
            out.append(i)
            if i.base == "RET":
                break
    return out


def with_callees(code: list[Instruction], region: list[Instruction],
                 weights: dict | None = None) -> tuple[list[Instruction], dict]:
    """``region`` plus the subroutines its unguarded calls run (and theirs), each weighted by
    the times it is called: the instructions to count, and their weights."""
    weights = dict(weights or {})
    out, seen = list(region), {i.address for i in region}
    todo = [(i, weights.get(i.address, 1)) for i in region
            if i.base == "CALL" and subroutine(code, i) and not out_of_line(code, i)]
    while todo:
        call, times = todo.pop()
        body = callee(code, call)
        rare = rare_addresses(code, body)
        for i in body:
            if i.address in rare:
                continue
            if i.address not in seen:
                seen.add(i.address)
                out.append(i)
                weights[i.address] = 0
            weights[i.address] += times
            if i.base == "CALL" and i.address != call.address and subroutine(code, i) \
                    and not out_of_line(code, i):
                todo.append((i, times))
    return out, weights


def rare_addresses(code: list[Instruction], region: list[Instruction]) -> set:
    """Addresses in ``region`` on a slow path: the basic blocks that touch local memory or
    make a guarded call (see :func:`guarded`; the libm slow paths: Payne-Hanek argument
    reduction for huge trig arguments, division fix-ups) or an out-of-line recomputation
    (counted apart, see gpu_model), and any loop inside ``region`` that touches local
    memory."""
    span = {i.address for i in region}
    rare: set[int] = set()
    for b in blocks([i for i in code if i.address in span]):
        if any(i.base in ("LDL", "STL") or (i.base == "CALL" and subroutine(code, i) and (
                guarded(code, i) or out_of_line(code, i))) for i in b):
            rare.update(i.address for i in b)
    for lp in loops(code):
        body = [i for i in lp.body(code) if i.address in span]
        if body and len(body) < len(region) and any(i.base in ("LDL", "STL") for i in body):
            rare.update(i.address for i in body)
    return rare
