"""The local stack: every AWS, Firestore and OpenAI part of storyimages on 127.0.0.1, offline.

Not part of the Lambda asset. Each piece is a real protocol peer: the Firestore emulator
speaks gRPC, moto speaks the AWS APIs and runs the ASL, the image server speaks the OpenAI
Images API, and the gateway speaks HTTP like API Gateway's REST proxy integration.
"""

import os

# gRPC's C core logs an INFO line whenever the emulator closes a connection at shutdown.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import logging

# moto's ASL engine warns about executions still running when the stack stops.
logging.getLogger("moto").setLevel(logging.ERROR)
