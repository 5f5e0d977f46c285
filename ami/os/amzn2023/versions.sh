#!/usr/bin/env bash
# Versions of what the amzn2023 AMI build installs from outside the distribution, in one place.
# The README section "What is on the AMI" is checked against this file by a test. Every file these
# name is pinned by SHA-256 in downloads.lock (a test checks that they agree).
# Python comes from PYTHON_VERSION (the python_version build parameter). OpenSSL is the
# distribution's (openssl-devel): Python and FreeTDS link to the OpenSSL 3 that dnf keeps updated.
export FREETDS_VERSION=1.5.4
export MYSQL_VERSION=8.4.7
# The long key id of MySQL's package signing key, as MySQL's manual publishes it
# ("Signature Checking Using GnuPG": B7B3B788A8D3785C for 8.4.7 and later).
export MYSQL_KEY_ID=B7B3B788A8D3785C
export POSTGRESQL_MAJOR=15
# Platform-dependent Python packages, as wheels for the AMI's arch (abi3: any Python 3 we build).
export PSUTIL_VERSION=7.2.2
