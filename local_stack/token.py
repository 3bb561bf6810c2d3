"""Print a development ID token for a uid, from a running `make local` stack.

    make token UID=demo-user            # or: python -m local_stack.token demo-user --url http://127.0.0.1:3000

Only the local stack trusts these tokens: its authorizer runs with STORYIMAGES_ENV=local."""

from __future__ import annotations

import argparse
import os
import sys

import requests

from local_stack.gateway import TOKEN_PATH


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("uid", nargs="?", default="demo-user", help="the Firebase uid to act as (default demo-user)")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    args = parser.parse_args()
    try:
        response = requests.post(f"{args.url}{TOKEN_PATH}", json={"uid": args.uid}, timeout=10)
    except requests.ConnectionError:
        print(f"no local stack at {args.url}: start it with `make local`", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"{response.status_code}: {response.text}", file=sys.stderr)
        return 1
    print(response.json()["token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
