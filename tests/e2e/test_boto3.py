"""End-to-end tests through boto3: clusters, task definitions, tags, account settings, errors and
paginators, against a `gantry server` this file starts (on a free port, with its own state
directory) and stops by PID. Prints TAP ("ok N - name" / "not ok N - name"). Runs with the machine's
boto3 and with Debian 12's python3-boto3 (operations newer than the installed botocore are skipped).
"""
import json
import os
import signal
import sys
import traceback
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

SERVER = None
ACCT = e2elib.ACCOUNTS["A"][2]
REGION = "us-east-1"
CL = "arn:aws:ecs:%s:%s:cluster/" % (REGION, ACCT)
TD = "arn:aws:ecs:%s:%s:task-definition/" % (REGION, ACCT)
ROOT = "arn:aws:iam::%s:root" % ACCT
CD = [{"name": "web", "image": "nginx:1.25", "memory": 128}]
WEB_APP = os.path.join(e2elib.E2E_DIR, "data", "web-app.json")


def ecs(account="A", region=REGION):
    return e2elib.client(SERVER.endpoint, account=account, region=region)


class Base(unittest.TestCase):
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.ecs = ecs()

    def assertError(self, code, fn, *args, **kw):
        """The call fails with this AWS error code, HTTP 400, a message and a request id."""
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 400, err)
        self.assertTrue(err["Error"].get("Message"), err)
        self.assertTrue(err["ResponseMetadata"].get("RequestId"), err)
        return err["Error"]["Message"]


class Clusters(Base):
    def test_create_describe_update_delete(self):
        c = self.ecs.create_cluster(clusterName="b3-life", tags=[{"key": "k", "value": "v"}],
                                    settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]
        self.assertEqual((c["clusterArn"], c["status"]), (CL + "b3-life", "ACTIVE"))
        again = self.ecs.create_cluster(clusterName="b3-life")["cluster"]
        self.assertEqual(again["clusterArn"], c["clusterArn"])
        d = self.ecs.describe_clusters(clusters=["b3-life", "b3-nope"],
                                       include=["TAGS", "SETTINGS", "STATISTICS", "CONFIGURATIONS"])
        self.assertEqual([x["clusterName"] for x in d["clusters"]], ["b3-life"])
        self.assertEqual(d["clusters"][0]["tags"], [{"key": "k", "value": "v"}])
        self.assertEqual(d["clusters"][0]["settings"], [{"name": "containerInsights", "value": "enabled"}])
        self.assertEqual(len(d["clusters"][0]["statistics"]), 10)
        self.assertEqual(d["failures"], [{"arn": CL + "b3-nope", "reason": "MISSING"}])
        u = self.ecs.update_cluster(cluster="b3-life", configuration={
            "executeCommandConfiguration": {"logging": "NONE"}})["cluster"]
        self.assertEqual(u["configuration"], {"executeCommandConfiguration": {"logging": "NONE"}})
        s = self.ecs.update_cluster_settings(cluster=CL + "b3-life",
                                             settings=[{"name": "containerInsights", "value": "disabled"}])
        self.assertEqual(s["cluster"]["settings"], [{"name": "containerInsights", "value": "disabled"}])
        gone = self.ecs.delete_cluster(cluster="b3-life")["cluster"]
        self.assertEqual(gone["status"], "INACTIVE")
        self.assertEqual([x["status"] for x in self.ecs.describe_clusters(clusters=["b3-life"])["clusters"]],
                         ["INACTIVE"])
        self.assertNotIn(CL + "b3-life", self.ecs.list_clusters()["clusterArns"])
        self.assertError("ClusterNotFoundException", self.ecs.delete_cluster, cluster="b3-life")

    def test_default_cluster(self):
        c = self.ecs.create_cluster()["cluster"]
        self.assertEqual(c["clusterName"], "default")
        d = self.ecs.describe_clusters()
        self.assertEqual([x["clusterArn"] for x in d["clusters"]], [CL + "default"])

    def test_refusals(self):
        msg = self.assertError("InvalidParameterException", self.ecs.create_cluster, clusterName="no/slash")
        self.assertIn("no/slash", msg)
        self.assertError("ClusterNotFoundException", self.ecs.update_cluster_settings, cluster="b3-none",
                         settings=[{"name": "containerInsights", "value": "enabled"}])
        self.assertError("InvalidParameterException", self.ecs.describe_clusters, include=["EVERYTHING"])


class TaskDefinitions(Base):
    def test_register_readme_example(self):
        with open(WEB_APP) as f:
            doc = json.load(f)
        doc["family"] = "b3-web-app"
        r = self.ecs.register_task_definition(**doc)["taskDefinition"]
        self.assertEqual(r["taskDefinitionArn"], TD + "b3-web-app:1")
        self.assertEqual(r["revision"], 1)
        self.assertEqual(r["status"], "ACTIVE")
        self.assertEqual([c["name"] for c in r["containerDefinitions"]], ["nginx", "app"])
        self.assertEqual(r["containerDefinitions"][0]["links"], ["app"])
        for ref in ("b3-web-app", "b3-web-app:1", TD + "b3-web-app:1"):
            d = self.ecs.describe_task_definition(taskDefinition=ref)
            self.assertEqual(d["taskDefinition"], r, ref)
            self.assertNotIn("tags", d)

    def test_revisions_deregister_delete(self):
        fam = "b3-revs"
        for i in range(3):
            r = self.ecs.register_task_definition(family=fam, containerDefinitions=CD,
                                                  tags=[{"key": "n", "value": str(i)}])
            self.assertEqual(r["taskDefinition"]["revision"], i + 1)
            self.assertEqual(r["tags"], [{"key": "n", "value": str(i)}])
        d = self.ecs.deregister_task_definition(taskDefinition=fam + ":3")["taskDefinition"]
        self.assertEqual(d["status"], "INACTIVE")
        self.assertIn("deregisteredAt", d)
        # The family resolves to the latest ACTIVE revision.
        self.assertEqual(self.ecs.describe_task_definition(taskDefinition=fam)["taskDefinition"]["revision"], 2)
        t = self.ecs.describe_task_definition(taskDefinition=fam + ":1", include=["TAGS"])
        self.assertEqual(t["tags"], [{"key": "n", "value": "0"}])
        self.assertEqual(self.ecs.list_task_definitions(familyPrefix=fam)["taskDefinitionArns"],
                         [TD + fam + ":1", TD + fam + ":2"])
        self.assertEqual(self.ecs.list_task_definitions(familyPrefix=fam, sort="DESC")["taskDefinitionArns"],
                         [TD + fam + ":2", TD + fam + ":1"])
        self.assertEqual(self.ecs.list_task_definitions(familyPrefix=fam, status="INACTIVE")["taskDefinitionArns"],
                         [TD + fam + ":3"])
        if not hasattr(self.ecs, "delete_task_definitions"):
            self.skipTest("this botocore has no DeleteTaskDefinitions")
        r = self.ecs.delete_task_definitions(taskDefinitions=[fam + ":3", fam + ":2"])
        self.assertEqual([(t["revision"], t["status"]) for t in r["taskDefinitions"]], [(3, "DELETE_IN_PROGRESS")])
        self.assertEqual([f["arn"] for f in r["failures"]], [fam + ":2"])
        self.assertEqual(self.ecs.describe_task_definition(taskDefinition=fam + ":3")["taskDefinition"]["status"],
                         "DELETE_IN_PROGRESS")

    def test_families(self):
        for fam in ("b3-fam-x", "b3-fam-y"):
            self.ecs.register_task_definition(family=fam, containerDefinitions=CD)
        self.ecs.deregister_task_definition(taskDefinition="b3-fam-y:1")
        self.assertEqual(self.ecs.list_task_definition_families(familyPrefix="b3-fam-", status="ACTIVE")["families"],
                         ["b3-fam-x"])
        self.assertEqual(self.ecs.list_task_definition_families(familyPrefix="b3-fam-", status="INACTIVE")["families"],
                         ["b3-fam-y"])
        self.assertEqual(self.ecs.list_task_definition_families(familyPrefix="b3-fam-", status="ALL")["families"],
                         ["b3-fam-x", "b3-fam-y"])

    def test_task_size_strings(self):
        r = self.ecs.register_task_definition(
            family="b3-sized", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="1 vCPU",
            memory="2 GB", containerDefinitions=[{"name": "web", "image": "nginx"}])["taskDefinition"]
        self.assertEqual((r["cpu"], r["memory"]), ("1024", "2048"))

    def test_validation(self):
        cases = [
            ("ClientException", "essential", [dict(CD[0], essential=False)], {}),
            ("ClientException", "'web'", CD + CD, {}),
            ("ClientException", "memoryReservation", [dict(CD[0], memoryReservation=256)], {}),
            ("ClientException", "cycle", [
                {"name": "a", "image": "x", "memory": 64, "dependsOn": [{"containerName": "b", "condition": "START"}]},
                {"name": "b", "image": "x", "memory": 64, "dependsOn": [{"containerName": "a", "condition": "START"}]}], {}),
            ("ClientException", "host ports", [dict(CD[0], portMappings=[{"containerPort": 80, "hostPort": 81}])],
             {"networkMode": "awsvpc"}),
            ("ClientException", "Fargate", [{"name": "web", "image": "x"}],
             {"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "512", "memory": "512"}),
        ]
        for code, needle, cds, extra in cases:
            msg = self.assertError(code, self.ecs.register_task_definition, family="b3-bad",
                                   containerDefinitions=cds, **extra)
            self.assertIn(needle, msg)
        self.assertError("ClientException", self.ecs.describe_task_definition, taskDefinition="b3-bad")


class Tags(Base):
    def test_cluster_and_task_definition_tags(self):
        arn = self.ecs.create_cluster(clusterName="b3-tags")["cluster"]["clusterArn"]
        tdarn = self.ecs.register_task_definition(family="b3-tags", containerDefinitions=CD)[
            "taskDefinition"]["taskDefinitionArn"]
        for a in (arn, tdarn):
            self.ecs.tag_resource(resourceArn=a, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
            self.ecs.tag_resource(resourceArn=a, tags=[{"key": "a", "value": "3"}])
            self.ecs.untag_resource(resourceArn=a, tagKeys=["b"])
            self.assertEqual(self.ecs.list_tags_for_resource(resourceArn=a)["tags"], [{"key": "a", "value": "3"}])
        self.assertEqual(self.ecs.describe_clusters(clusters=[arn], include=["TAGS"])["clusters"][0]["tags"],
                         [{"key": "a", "value": "3"}])
        self.assertError("InvalidParameterException", self.ecs.tag_resource, resourceArn=arn,
                         tags=[{"key": "aws:x", "value": "1"}])
        too_many = [{"key": "k%d" % i, "value": "v"} for i in range(51)]
        self.assertError("InvalidParameterException", self.ecs.tag_resource, resourceArn=arn, tags=too_many)


class AccountSettings(Base):
    USER = "arn:aws:iam::%s:user/alice" % ACCT

    def effective(self, name, principal=None):
        kw = {"principalArn": principal} if principal else {}
        s = self.ecs.list_account_settings(name=name, effectiveSettings=True, **kw)["settings"]
        self.assertEqual(len(s), 1, s)
        return s[0]["value"]

    def test_put_default_delete(self):
        name = "awsvpcTrunking"
        self.assertEqual(self.effective(name, self.USER), "disabled")  # AWS's default
        r = self.ecs.put_account_setting_default(name=name, value="enabled")["setting"]
        self.assertEqual((r["name"], r["value"]), (name, "enabled"))
        self.assertEqual(self.effective(name, self.USER), "enabled")  # the account default applies
        r = self.ecs.put_account_setting(name=name, value="disabled", principalArn=self.USER)["setting"]
        self.assertEqual((r["name"], r["value"], r["principalArn"]), (name, "disabled", self.USER))
        self.assertEqual(self.effective(name, self.USER), "disabled")  # the principal's own wins
        own = self.ecs.list_account_settings(principalArn=self.USER)["settings"]
        self.assertEqual([(s["name"], s["value"]) for s in own], [(name, "disabled")])
        d = self.ecs.delete_account_setting(name=name, principalArn=self.USER)["setting"]
        self.assertEqual((d["name"], d["value"]), (name, "disabled"))
        self.assertEqual(self.effective(name, self.USER), "enabled")
        self.ecs.delete_account_setting(name=name)  # the caller is the root: that is the default
        self.assertEqual(self.effective(name, self.USER), "disabled")

    def test_caller_setting(self):
        r = self.ecs.put_account_setting(name="containerInsights", value="enhanced")["setting"]
        self.assertEqual((r["value"], r["principalArn"]), ("enhanced", ROOT))
        self.assertEqual(self.effective("containerInsights"), "enhanced")
        got = self.ecs.list_account_settings(name="containerInsights", value="enhanced")["settings"]
        self.assertEqual([s["value"] for s in got], ["enhanced"])
        self.ecs.delete_account_setting(name="containerInsights")
        self.assertEqual(self.effective("containerInsights"), "disabled")

    def test_refusals(self):
        self.assertError("InvalidParameterException", self.ecs.put_account_setting, name="noSuchSetting",
                         value="enabled")
        self.assertError("InvalidParameterException", self.ecs.put_account_setting, name="awsvpcTrunking",
                         value="maybe")

    def test_isolated_per_account(self):
        self.ecs.put_account_setting(name="dualStackIPv6", value="enabled")
        other = ecs("B")
        s = other.list_account_settings(name="dualStackIPv6", effectiveSettings=True)["settings"]
        self.assertEqual([(x["value"], x["principalArn"]) for x in s],
                         [("disabled", "arn:aws:iam::%s:root" % e2elib.ACCOUNTS["B"][2])])
        self.ecs.delete_account_setting(name="dualStackIPv6")


class Paginators(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(105):
            cls.ecs.create_cluster(clusterName="b3-page-%03d" % i)
        for i in range(103):
            cls.ecs.register_task_definition(family="b3-page", containerDefinitions=CD)
        for i in range(102):
            cls.ecs.register_task_definition(family="b3-pfam-%03d" % i, containerDefinitions=CD)

    def test_list_clusters(self):
        p = self.ecs.get_paginator("list_clusters")
        arns = [a for page in p.paginate() for a in page["clusterArns"]]
        mine = [a for a in arns if "/b3-page-" in a]
        self.assertEqual(mine, [CL + "b3-page-%03d" % i for i in range(105)])
        self.assertEqual(len(arns), len(set(arns)))
        small = [a for page in p.paginate(PaginationConfig={"PageSize": 30}) for a in page["clusterArns"]]
        self.assertEqual(small, arns)
        first = p.paginate(PaginationConfig={"MaxItems": 7}).build_full_result()
        self.assertEqual(first["clusterArns"], arns[:7])
        rest = p.paginate(PaginationConfig={"StartingToken": first["NextToken"]}).build_full_result()
        self.assertEqual(first["clusterArns"] + rest["clusterArns"], arns)

    def test_list_task_definitions(self):
        p = self.ecs.get_paginator("list_task_definitions")
        want = [TD + "b3-page:%d" % i for i in range(1, 104)]
        self.assertEqual(p.paginate(familyPrefix="b3-page").build_full_result()["taskDefinitionArns"], want)
        self.assertEqual(p.paginate(familyPrefix="b3-page", sort="DESC").build_full_result()["taskDefinitionArns"],
                         want[::-1])
        page1 = self.ecs.list_task_definitions(familyPrefix="b3-page")
        self.assertEqual(len(page1["taskDefinitionArns"]), 100)
        page2 = self.ecs.list_task_definitions(familyPrefix="b3-page", nextToken=page1["nextToken"])
        self.assertEqual(page1["taskDefinitionArns"] + page2["taskDefinitionArns"], want)
        self.assertNotIn("nextToken", page2)

    def test_list_task_definition_families(self):
        p = self.ecs.get_paginator("list_task_definition_families")
        fams = p.paginate(familyPrefix="b3-pfam-", PaginationConfig={"PageSize": 40}).build_full_result()["families"]
        self.assertEqual(fams, ["b3-pfam-%03d" % i for i in range(102)])

    def test_list_account_settings(self):
        p = self.ecs.get_paginator("list_account_settings")
        pages = list(p.paginate(effectiveSettings=True))
        names = [s["name"] for page in pages for s in page["settings"]]
        self.assertGreater(len(pages), 1)  # more settings than one page (10) holds
        self.assertEqual(len(names), len(set(names)))
        for n in ("serviceLongArnFormat", "taskLongArnFormat", "containerInstanceLongArnFormat",
                  "awsvpcTrunking", "containerInsights", "dualStackIPv6", "tagResourceAuthorization"):
            self.assertIn(n, names)


class Errors(Base):
    def test_error_shape(self):
        with self.assertRaises(ClientError) as cm:
            self.ecs.describe_task_definition(taskDefinition="b3-never:1")
        r = cm.exception.response
        self.assertEqual(r["Error"]["Code"], "ClientException")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(len(r["ResponseMetadata"]["RequestId"]), 36)
        self.assertEqual(r["ResponseMetadata"]["HTTPHeaders"]["content-type"], "application/x-amz-json-1.1")

    def test_wrong_credentials(self):
        import boto3
        bad = boto3.session.Session().client(
            "ecs", endpoint_url=SERVER.endpoint, region_name=REGION, aws_access_key_id=e2elib.ACCOUNTS["A"][0],
            aws_secret_access_key="wrong")
        with self.assertRaises(ClientError) as cm:
            bad.list_clusters()
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidSignatureException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)


def main():
    global SERVER
    SERVER = e2elib.Server()
    return e2elib.run_tap(sys.modules[__name__], SERVER)


if __name__ == "__main__":
    sys.exit(main())
