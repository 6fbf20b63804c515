#!/bin/sh
sleep "${1:-300}"
