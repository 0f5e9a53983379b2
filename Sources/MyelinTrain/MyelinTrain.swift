// MyelinTrain: see docs/ARCHITECTURE.md. Files are added one per family.
