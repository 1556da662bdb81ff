"""Forms: the pre-filled PDFs the applicant prints — layout, fonts, rendering."""
