-- Extraction query for the generic_sql layout: one row per charge, generic column names.
-- Adapt the FROM clause (and joins) to the CMS's own tables; keep the column names and the
-- ORDER BY, which makes the rows (and so the line numbers in the lineage) deterministic.
-- Available bind parameters: :county (the county as DOJ writes it) and layout sql.parameters.
SELECT
    court_case_number,
    courthouse,
    count_number,
    person_key,
    defendant_name,
    dob,
    gender,
    race,
    cii,
    ssn,
    dl_number,
    charge,
    charge_level,
    charge_description,
    offense_date,
    disposition_code,
    disposition,
    disposition_date,
    sentence_length,
    sentence_unit,
    comment
FROM cms_charges
ORDER BY court_case_number, count_number, person_key
