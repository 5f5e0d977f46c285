#!/usr/bin/env bash
# Versions of what the amzn2023 AMI build installs from outside the distribution, in one place.
# The README section "What is on the AMI" is checked against this file by a test.
# Python comes from PYTHON_VERSION (the python_version build parameter).
export OPENSSL_VERSION=3.5.0
export FREETDS_VERSION=1.5.4
export MYSQL_REPO_RPM=mysql84-community-release-el9-1.noarch.rpm
export POSTGRESQL_MAJOR=15
