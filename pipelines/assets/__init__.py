"""Assets by stage, left to right: raw → pseudonymized → person_spine → features/labels → models →
model cards → risk scores → visit lists → privacy audit."""
