"""The documents a regulator asks for, generated from what Custodia holds:

- build: the register of processing activities (GDPR Art. 30(1)) of one tenant, its content
  hashed, worded in English, Spanish or French;
- strings: the Spanish and French words;
- exports: the register as CSV (kit/csv_export.py) and XLSX (openpyxl);
- analysis: the risk analysis (Art. 32, 35(7)(c),(d)) and a DPIA's summary (Art. 35), with the
  live evidence of each measure (compliance/evidence.py).
"""
