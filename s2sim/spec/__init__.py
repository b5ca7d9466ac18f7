"""The chip spec: pydantic models + the bundled SpiNNaker2 YAML (every number with its source).

    from s2sim.spec import load_spec
    spec = load_spec()                                   # bundled spinnaker2.yaml
    spec = load_spec("my_chip.yaml", {"performance_levels.1.frequency_hz": "350e6"})
    spec.noc.cycles_per_hop.value, spec.pe_ids(), spec.estimates()

See docs/spec.md for the schema.
"""

from s2sim.spec.loader import (
    bundled_spec_text,
    dump_spec_yaml,
    load_spec,
    parse_set_args,
    save_spec,
    spec_to_data,
    validate_spec,
    with_overrides,
)
from s2sim.spec.models import (
    SOURCES,
    Accelerators,
    Calibration,
    CalibrationLevel,
    ChipSpec,
    Cpu,
    CpuCycles,
    Host,
    Links,
    Memory,
    Noc,
    Organisation,
    PerformanceLevel,
    Power,
    Router,
    Sourced,
    SourcedCoords,
    SourcedXY,
    Timing,
    decode_pe_id,
    encode_pe_id,
)

__all__ = [
    "SOURCES", "Accelerators", "Calibration", "CalibrationLevel", "ChipSpec", "Cpu", "CpuCycles",
    "Host", "Links", "Memory", "Noc", "Organisation", "PerformanceLevel", "Power", "Router",
    "Sourced", "SourcedCoords", "SourcedXY", "Timing", "bundled_spec_text", "decode_pe_id",
    "dump_spec_yaml", "encode_pe_id", "load_spec", "parse_set_args", "save_spec", "spec_to_data",
    "validate_spec", "with_overrides",
]
