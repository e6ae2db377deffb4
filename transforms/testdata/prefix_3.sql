nullif(left(trim(CAST("zip" AS VARCHAR), E' \t\n\r'), 3), '')
