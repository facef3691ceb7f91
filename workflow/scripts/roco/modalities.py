"""The imaging modalities a figure can have, with the ROCOv2 manual concept for each.

classify assigns one of these labels; concepts turns it into the manual-style concept. Every CUI
is in ROCOv2's cui_mapping.csv with the name given here. Combined modalities (PET-CT, SPECT-CT)
are labels of their own because ROCOv2 has a concept for each.
"""

from __future__ import annotations

from typing import NamedTuple


class Modality(NamedTuple):
    label: str
    cui: str
    name: str


MODALITIES: dict[str, Modality] = {
    m.label: m
    for m in (
        Modality("CT", "C0040405", "X-Ray Computed Tomography"),
        Modality("MRI", "C0024485", "Magnetic Resonance Imaging"),
        Modality("X-ray", "C1306645", "Plain x-ray"),
        Modality("Ultrasound", "C0041618", "Ultrasonography"),
        Modality("Angiography", "C0002978", "angiogram"),
        Modality("PET", "C0032743", "Positron-Emission Tomography"),
        Modality("PET-CT", "C1699633", "PET/CT scan"),
        Modality("SPECT", "C0040399", "Tomography, Emission-Computed, Single-Photon"),
        Modality(
            "SPECT-CT", "C3472245", "Single Photon Emission Computed Tomography Computed Tomography"
        ),
        Modality("Scintigraphy", "C0034606", "Radionuclide Imaging"),
    )
}
# Radiology the classifier accepted but could not name: kept, with no manual modality concept.
UNKNOWN = "unknown"
