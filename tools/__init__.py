"""Developer tools that are not part of the Lambda asset."""
