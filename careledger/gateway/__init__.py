"""The provider record gateway (issue #19): FHIR R4 records held encrypted at rest, anchored on
chain as salted commitments, and handed only to requesters the consent registry allows."""
