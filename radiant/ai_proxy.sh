#!/bin/sh
# The AI proxy function's handler under the Lambda Web Adapter (docs/DEPLOY.md): the
# adapter (a layer, run through AWS_LAMBDA_EXEC_WRAPPER) starts this script, waits until
# the app answers AWS_LWA_READINESS_CHECK_PATH on AWS_LWA_PORT, then turns each function URL
# request into an HTTP request to it and streams the answer back as it is written.
exec python3 -m radiant.stream_server
