"""Sends one raw JSON 1.1 request to gantry, signed with SigV4 (or deliberately not, or wrongly),
and prints {"status", "headers", "body", "json", "elapsed"} as JSON, for the shell suites.

usage: rawreq.py ENDPOINT OPERATION [BODY] [options]
  --account A|B         which test account signs (default A)
  --key K / --secret S  sign with this access key / secret instead
  --skew SECONDS        sign as of now + SECONDS (negative: in the past)
  --no-sign             send no Authorization header
  --no-target           send no X-Amz-Target header
  --prefix P            target prefix (default the ECS one; '' sends OPERATION as the whole target)
  --service S           signing service (default ecs)  --region R   (default us-east-1)
  --body-after B        replace the body after signing
  --signature HEX       replace the signature after signing
  --header-after 'N: V' set a header after signing (repeatable)
"""
import argparse
import json
import sys

import e2elib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("operation")
    ap.add_argument("body", nargs="?", default="{}")
    ap.add_argument("--account", default="A")
    ap.add_argument("--key")
    ap.add_argument("--secret")
    ap.add_argument("--skew", type=int, default=0)
    ap.add_argument("--no-sign", action="store_true")
    ap.add_argument("--no-target", action="store_true")
    ap.add_argument("--prefix", default=e2elib.ECS_PREFIX)
    ap.add_argument("--service", default="ecs")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--body-after")
    ap.add_argument("--signature")
    ap.add_argument("--header-after", action="append", default=[])
    a = ap.parse_args()
    after = {}
    for h in a.header_after:
        name, _, value = h.partition(":")
        after[name.strip()] = value.strip()
    m, p, h, b = e2elib.signed_request(
        a.endpoint, None if a.no_target else a.operation, a.body, account=a.account, key=a.key,
        secret=a.secret, region=a.region, service=a.service, target_prefix=a.prefix, skew=a.skew,
        sign=not a.no_sign, body_after_signing=a.body_after, headers_after_signing=after,
        signature=a.signature)
    r = e2elib.send(a.endpoint, m, p, h, b)
    json.dump(r.as_dict(), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
