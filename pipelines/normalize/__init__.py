"""Normalizers shared by both sources (Polars expressions): statutes, names, dates, case numbers."""
