"""Flash/RAM budgets of a firmware build, measured from the ELF and its map file.

The map file's "Memory Configuration" gives the board's memory regions (from its linker script);
``arm-none-eabi-objdump -h`` gives every section's size, run address (VMA) and load address (LMA).
Each allocated section counts against the region holding its VMA, and an initialised RW section
(``.data``) also against the region holding its load image. Flash = bytes the image stores
(code, read-only data, the ``.data`` image); RAM = bytes reserved at run time (``.data``, ``.bss``,
the tensor arena, the stack).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import SleepkitError

OBJDUMP = "arm-none-eabi-objdump"
SIZE = "arm-none-eabi-size"


@dataclass
class Region:
    name: str
    origin: int
    length: int
    attributes: str
    used: int = 0

    @property
    def fits(self) -> bool:
        return self.used <= self.length

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.length if self.length else 0.0


@dataclass
class Section:
    name: str
    size: int
    vma: int
    lma: int
    flags: tuple[str, ...]

    @property
    def alloc(self) -> bool:
        return "ALLOC" in self.flags

    @property
    def stored(self) -> bool:  # occupies bytes in the image (code, rodata, .data initialiser)
        return "LOAD" in self.flags and "CONTENTS" in self.flags

    @property
    def in_ram(self) -> bool:  # reserved at run time: .bss/arena/stack, and .data copied from its image
        return not self.stored or self.lma != self.vma


@dataclass
class Budget:
    board: str
    elf: str
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int
    stack_bytes: int
    model_bytes: int | None
    regions: list[Region] = field(default_factory=list)
    berkeley: dict[str, int] = field(default_factory=dict)  # arm-none-eabi-size text/data/bss

    @property
    def fits(self) -> bool:
        return all(r.fits for r in self.regions)

    def overflows(self) -> list[str]:
        return [
            f"{r.name} needs {r.used} B of {r.length} B (over by {r.used - r.length} B)"
            for r in self.regions
            if not r.fits
        ]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fits"] = self.fits
        for r, rd in zip(self.regions, d["regions"]):
            rd["percent"] = round(r.percent, 2)
        return d


_REGION_LINE = re.compile(r"^(\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)(?:\s+(\S+))?\s*$")


def parse_memory_configuration(map_text: str) -> list[Region]:
    """Regions from a GNU ld map file's "Memory Configuration" table (without ``*default*``)."""
    lines = map_text.splitlines()
    try:
        start = lines.index("Memory Configuration")
    except ValueError:
        raise SleepkitError("map file has no 'Memory Configuration' section (not a GNU ld map?)") from None
    regions: list[Region] = []
    for line in lines[start + 1 :]:
        if line.startswith("Linker script and memory map"):
            break
        m = _REGION_LINE.match(line.strip())
        if not m or m.group(1) in ("Name", "*default*"):
            continue
        regions.append(Region(m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4) or ""))
    if not regions:
        raise SleepkitError("map file lists no memory regions")
    return regions


_SECTION_LINE = re.compile(
    r"^\s*\d+\s+(\S+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+[0-9a-fA-F]+\s+2\*\*\d+\s*$"
)


def parse_objdump_headers(text: str) -> list[Section]:
    """Sections from ``objdump -h`` (name, size, VMA, LMA and the flags line that follows)."""
    sections: list[Section] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _SECTION_LINE.match(line)
        if not m:
            continue
        flags = tuple(f.strip() for f in lines[i + 1].split(",")) if i + 1 < len(lines) else ()
        sections.append(Section(m.group(1), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16), flags))
    return sections


def _region_of(regions: list[Region], addr: int, size: int) -> Region | None:
    for r in regions:
        if r.origin <= addr < r.origin + r.length or (size == 0 and addr == r.origin + r.length):
            return r
    return None


def compute_budget(
    board: str, elf: str, regions: list[Region], sections: list[Section], model_bytes: int | None = None
) -> Budget:
    flash = ram = arena = stack = 0
    for s in sections:
        if not s.alloc or s.size == 0:
            continue
        run = _region_of(regions, s.vma, s.size)
        if run is None:
            raise SleepkitError(f"{elf}: section {s.name} at 0x{s.vma:08x} lies in no memory region of {board}")
        run.used += s.size
        if s.stored and s.lma != s.vma:
            load = _region_of(regions, s.lma, s.size)
            if load is None:
                raise SleepkitError(f"{elf}: load image of {s.name} at 0x{s.lma:08x} lies in no memory region")
            load.used += s.size
        if s.stored:
            flash += s.size
        if s.in_ram:
            ram += s.size
        if s.name == ".sk_arena":
            arena = s.size
        elif s.name == ".stack":
            stack = s.size
    return Budget(board, str(elf), flash, ram, arena, stack, model_bytes, regions)


def parse_berkeley(text: str) -> dict[str, int]:
    """``arm-none-eabi-size`` default (Berkeley) output -> {'text', 'data', 'bss'}."""
    lines = [l for l in text.splitlines() if l.strip()]
    if len(lines) < 2:
        return {}
    values = lines[1].split()
    return {"text": int(values[0]), "data": int(values[1]), "bss": int(values[2])}


def measure(board: str, elf: str | Path, map_file: str | Path, model_bytes: int | None = None) -> Budget:
    """Budget of a linked ELF (uses arm-none-eabi-objdump/size and the linker map)."""
    elf, map_file = Path(elf), Path(map_file)
    try:
        map_text = map_file.read_text(errors="replace")
    except OSError as exc:
        raise SleepkitError(f"cannot read map file {map_file}: {exc}") from None
    try:
        headers = subprocess.run([OBJDUMP, "-h", str(elf)], check=True, capture_output=True, text=True).stdout
        berkeley = subprocess.run([SIZE, str(elf)], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SleepkitError(f"cannot read sections of {elf}: {exc}") from None
    regions = parse_memory_configuration(map_text)
    budget = compute_budget(board, str(elf), regions, parse_objdump_headers(headers), model_bytes)
    budget.berkeley = parse_berkeley(berkeley)
    return budget


_OVERFLOW = re.compile(r"region [`'](\S+?)' overflowed by (\d+) bytes")


def parse_link_overflow(log: str) -> dict[str, int]:
    """{region: bytes over} from GNU ld's "region `X' overflowed by N bytes" errors."""
    return {m.group(1): int(m.group(2)) for m in _OVERFLOW.finditer(log)}


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:.1f}"


def budget_table(rows: list[dict], title: str = "Firmware budget (KiB)"):
    """A rich Table from build summaries (see build.BuildResult.to_dict)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("Board (build)", no_wrap=True)
    for col in ("Flash", "RAM", "Arena", "Model"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("Regions: used/size (%)")
    table.add_column("Fits", no_wrap=True)
    for row in rows:
        label = f"{row['board']}\n({row.get('status', '-')})"
        b = row.get("budget")
        if b is None:
            table.add_row(label, "-", "-", "-", "-", row.get("reason", ""), "-")
            continue
        regions = "\n".join(
            f"{r['name']} {r['used'] / 1024:.1f}/{r['length'] / 1024:.0f} ({r['percent']:.0f}%)"
            for r in b["regions"]
            if r["used"]
        )
        table.add_row(label, _kib(b["flash_bytes"]), _kib(b["ram_bytes"]), _kib(b["arena_bytes"]),
                      _kib(b["model_bytes"]), regions, "yes" if b["fits"] else "[red]NO[/red]")
    return table
