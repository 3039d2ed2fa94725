"""Training rows generated from the AWS provider schema and the Kubernetes schemas (see studio/synth/build.py)."""
