"""Adapters: the ports implemented with Firestore, OpenAI, S3 and Step Functions."""
