"""The image-generation workflow's ASL, and the one function that fills in its placeholders."""
