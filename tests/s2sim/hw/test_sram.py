import pytest

from s2sim.errors import ResourceError
from s2sim.hw import Chip, Program
from s2sim.hw.sram import SramAllocator


def test_regions_are_aligned_and_accounted():
    s = SramAllocator(0x25, 1024, alignment_bytes=16)
    a = s.alloc("a", 10)
    b = s.alloc("b", 20)
    c = s.alloc("c", 8, align=64)
    assert (a.offset_bytes, b.offset_bytes, c.offset_bytes) == (0, 16, 64)
    assert s.used_bytes == 72 and s.free_bytes == 1024 - 72
    assert s["b"].size_bytes == 20 and "c" in s


def test_overflow_names_pe_region_and_bytes():
    s = SramAllocator(0x4D, 98_304, alignment_bytes=16)
    s.alloc("weights", 90_000)
    with pytest.raises(ResourceError) as exc:
        s.alloc("state", 10_000)
    msg = str(exc.value)
    assert "PE 0x4d (qx 2, qy 3, p 1)" in msg
    assert "'state'" in msg and "10,000 bytes" in msg and "8,304 bytes are free" in msg
    assert "\n" not in msg


def test_duplicate_and_bad_sizes():
    s = SramAllocator(0x25, 1024)
    s.alloc("a", 1)
    with pytest.raises(ResourceError, match="allocated twice"):
        s.alloc("a", 1)
    with pytest.raises(ResourceError, match="non-negative integer"):
        s.alloc("b", -5)
    with pytest.raises(ResourceError, match="no SRAM region 'zz'"):
        s["zz"]


class Big(Program):
    name = "big"

    def sram_regions(self):
        return {"weights": 90_000, "state": 9_000}


class BigCode(Program):
    name = "bigcode"
    code_bytes = 40_000


def test_load_allocates_regions_from_data_sram(spec):
    chip = Chip(spec)
    with pytest.raises(ResourceError) as exc:
        chip.load(chip.pes[3], Big())
    msg = str(exc.value)
    assert "PE 0x27" in msg and "'state'" in msg and "9,000 bytes" in msg
    assert "8,304 bytes are free" in msg and "98,304" in msg
    with pytest.raises(ResourceError, match="code of 'bigcode' needs 40,000 bytes"):
        chip.load(chip.pes[4], BigCode())
    pe = chip.load(chip.pes[5], Program())
    assert pe.sram.free_bytes == spec.memory.data_sram_bytes.value
