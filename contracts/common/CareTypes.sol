// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Purpose
/// @notice HL7 v3 PurposeOfUse codes as bit indexes; a consent holds a bit set of them
///         (`uint16`, bit `1 << code`). Mirrored in Python by `careledger.codes.Purpose`.
library Purpose {
    uint8 internal constant TREAT = 0; // treatment
    uint8 internal constant HPAYMT = 1; // healthcare payment
    uint8 internal constant HOPERAT = 2; // healthcare operations
    uint8 internal constant HRESCH = 3; // healthcare research
    uint8 internal constant PUBHLTH = 4; // public health
    uint8 internal constant ETREAT = 5; // emergency treatment (break-glass)
    uint8 internal constant BTG = 6; // break the glass
    uint8 internal constant COUNT = 7;
}

/// @title Category
/// @notice Data categories as bit indexes over FHIR R4 resource types (and the sensitive groups
///         that US and EU rules single out). A consent holds a bit set (`uint32`).
///         Mirrored in Python by `careledger.codes.Category`.
library Category {
    uint8 internal constant PATIENT = 0; // Patient (demographics)
    uint8 internal constant ENCOUNTER = 1; // Encounter
    uint8 internal constant CONDITION = 2; // Condition
    uint8 internal constant OBSERVATION = 3; // Observation (vitals, laboratory)
    uint8 internal constant MEDICATION = 4; // MedicationRequest / MedicationStatement
    uint8 internal constant IMMUNIZATION = 5; // Immunization
    uint8 internal constant ALLERGY = 6; // AllergyIntolerance
    uint8 internal constant PROCEDURE = 7; // Procedure
    uint8 internal constant DIAGNOSTIC_REPORT = 8; // DiagnosticReport
    uint8 internal constant DOCUMENT = 9; // DocumentReference (clinical notes)
    uint8 internal constant IMAGING = 10; // ImagingStudy
    uint8 internal constant FINANCIAL = 11; // Claim, Coverage, ExplanationOfBenefit
    uint8 internal constant MENTAL_HEALTH = 12; // behavioural health (sensitive)
    uint8 internal constant GENOMIC = 13; // MolecularSequence (sensitive)
    uint8 internal constant SUBSTANCE_USE = 14; // 42 CFR Part 2 records (sensitive)
    uint8 internal constant COUNT = 15;
}
