-- The agencies' electronic identifier codes (QCVN 102:2016), from AgencyElectronicCodeAssigned:
-- the national feed exports name agencies by them.
ALTER TABLE rm_ref_agencies ADD COLUMN electronic_code text;
