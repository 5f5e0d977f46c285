//! The worker stack template (cloudformation/lava-worker.cfn.yaml) created in the AWS emulator and
//! read back: the role's policies statement by statement, the launch template (metadata options,
//! volumes, user data through our own parser), both instance selection forms, and `lava-ami -U`
//! moving the group to a new launch template version. What the emulator cannot create (scaling
//! policy, lifecycle hook, metric filter, managed policy attachments, update policy) is checked in
//! the template itself.
use crate::common::{bin, bin_moto, each_field, moto, moto_sdk, one_line_failure, root, succeeded};
use aws_sdk_cloudformation::types::{Capability, Parameter};
use lava_build::rc::userdata;
use serde_json::Value;
use serde_yaml::Value as Yaml;
use std::collections::BTreeMap;

const ACCOUNT: &str = "123456789012";

pub fn template_text() -> String {
    std::fs::read_to_string(root().join("cloudformation/lava-worker.cfn.yaml")).unwrap()
}

fn template() -> Yaml {
    serde_yaml::from_str(&template_text()).unwrap()
}

/// Every parameter of the template with its default ("" when it has none). The emulator keeps only
/// the parameters given at creation and then fails UsePreviousValue for the others (real
/// CloudFormation does not), so tests give every parameter.
pub fn template_defaults() -> BTreeMap<String, String> {
    let t = template();
    let params = t["Parameters"].as_mapping().unwrap();
    params
        .iter()
        .map(|(k, v)| {
            let d = match &v["Default"] {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) => n.to_string(),
                _ => String::new(),
            };
            (k.as_str().unwrap().to_string(), d)
        })
        .collect()
}

/// The realm's areas, which a worker without a realm policy needs.
pub const REALM_AREAS: [(&str, &str); 2] = [
    ("s3Temp", "s3://lava-prod-tmp/lava/prod/tmp"),
    ("s3Payloads", "s3://lava-prod-payloads/lava/prod/payloads"),
];

/// A VPC with a subnet and a security group: (subnet id, security group id).
pub async fn network(ec2: &aws_sdk_ec2::Client) -> (String, String) {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.9.1.0/24")
        .send()
        .await
        .unwrap();
    let sg = ec2
        .create_security_group()
        .group_name(format!("w-{}", uuid::Uuid::new_v4().simple()))
        .description("worker")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    (
        subnet.subnet().unwrap().subnet_id().unwrap().into(),
        sg.group_id().unwrap().into(),
    )
}

/// One region of the emulator for a test: the clients, and a VPC's subnet and security group for
/// the group's parameters (every test has a region of its own, so listings do not see each other).
pub struct Region {
    pub name: String,
    pub ec2: aws_sdk_ec2::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub asg: aws_sdk_autoscaling::Client,
    pub iam: aws_sdk_iam::Client,
    pub subnet: String,
    pub sg: String,
}

impl Region {
    pub async fn new(name: &str) -> Self {
        let sdk = moto_sdk(name).await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let (subnet, sg) = network(&ec2).await;
        Region {
            name: name.to_string(),
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
            asg: aws_sdk_autoscaling::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            ec2,
            subnet,
            sg,
        }
    }

    /// A worker `lava-prod-<worker>` of realm prod from the template: the parameters every
    /// worker of these tests has, then `extra` (e.g. `REALM_AREAS`).
    pub async fn prod_worker(
        &self,
        stack: &str,
        ami: &str,
        extra: &[(&str, &str)],
    ) -> BTreeMap<String, String> {
        let worker = stack.rsplit('-').next().unwrap();
        let mut set = vec![
            ("realm", "prod"),
            ("worker", worker),
            ("amiId", ami),
            ("subnets", &self.subnet),
            ("secGroups", &self.sg),
            ("codeBucket", "lava-code"),
            ("realmLambdasDeployed", "No"),
        ];
        set.extend_from_slice(extra);
        create_worker(&self.cfn, stack, &set).await
    }

    /// The data of one version (`None`: the first) of the stack's launch template.
    pub async fn launch_template(
        &self,
        stack: &str,
        version: Option<&str>,
    ) -> aws_sdk_ec2::types::ResponseLaunchTemplateData {
        let lt = physical_id(&self.cfn, stack, "LaunchTemplate").await;
        let out = self
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(&lt)
            .set_versions(version.map(|v| vec![v.to_string()]))
            .send()
            .await
            .unwrap();
        out.launch_template_versions()[0]
            .launch_template_data()
            .unwrap()
            .clone()
    }

    /// The stack's worker group and its physical name.
    pub async fn group(
        &self,
        stack: &str,
    ) -> (String, aws_sdk_autoscaling::types::AutoScalingGroup) {
        let name = physical_id(&self.cfn, stack, "WorkerGroup").await;
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&name)
            .send()
            .await
            .unwrap();
        let g = out.auto_scaling_groups()[0].clone();
        (name, g)
    }

    /// A lava AMI named `name` with `tags`; its id.
    pub async fn lava_ami(&self, name: &str, tags: &[(&str, &str)]) -> String {
        register_ami(&self.ec2, name, None, tags).await
    }

    /// `lava-ami -U PATTERN --ami latest --yes`, polling every second, then `extra`.
    pub fn roll_to_latest(&self, pattern: &str, extra: &[&str]) -> std::process::Output {
        self.lava_ami_cmd(&[
            "-U",
            pattern,
            "--ami",
            "latest",
            "--yes",
            "--poll-seconds",
            "1",
        ])
        .args(extra)
        .output()
        .unwrap()
    }

    /// `lava-ami --region <this> ARGS`.
    pub fn lava_ami_cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = bin_moto("lava-ami");
        c.args(["--region", &self.name]).args(args);
        c
    }
}

/// Registers an AMI named `name` (described when `description` is given) and tags it with `tags`:
/// its id.
pub async fn register_ami(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
    description: Option<&str>,
    tags: &[(&str, &str)],
) -> String {
    let id = ec2
        .register_image()
        .name(name)
        .set_description(description.map(String::from))
        .root_device_name("/dev/xvda")
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_string();
    if !tags.is_empty() {
        ec2.create_tags()
            .resources(&id)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
    }
    id
}

/// A stack with the given String parameters around a harmless resource (an SNS topic).
pub async fn topic_stack(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    params: &[(&str, &str)],
) {
    let mut tpl = String::from("AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n");
    for (k, _) in params {
        tpl.push_str(&format!("  {k}:\n    Type: String\n"));
    }
    tpl.push_str("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n");
    let mut req = cfn.create_stack().stack_name(name).template_body(tpl);
    for (k, v) in params {
        req = req.parameters(
            Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build(),
        );
    }
    req.send().await.unwrap();
}

/// A stack standing in for the realm stack: it exports `exports` (name, value).
async fn realm_exports(cfn: &aws_sdk_cloudformation::Client, name: &str, exports: &[(&str, &str)]) {
    let mut tpl = String::from(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\nOutputs:\n",
    );
    for (i, (export, value)) in exports.iter().enumerate() {
        tpl.push_str(&format!(
            "  Out{i}:\n    Value: '{value}'\n    Export:\n      Name: '{export}'\n"
        ));
    }
    cfn.create_stack()
        .stack_name(name)
        .template_body(tpl)
        .send()
        .await
        .unwrap();
}

/// Creates a worker stack from the template: every parameter at its default, then `set`.
pub async fn create_worker(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    set: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut params = template_defaults();
    for (k, v) in set {
        assert!(params.contains_key(*k), "no parameter {k}");
        params.insert(k.to_string(), v.to_string());
    }
    let out = cfn
        .create_stack()
        .stack_name(name)
        .template_body(template_text())
        .capabilities(Capability::CapabilityNamedIam)
        .set_parameters(Some(
            params
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await;
    out.unwrap_or_else(|e| panic!("CreateStack {name}: {e:?}"));
    let status = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(status, "CREATE_COMPLETE", "{name}");
    params
}

/// A resource's physical id. (DescribeStackResources: the emulator's DescribeStackResource fails
/// on stacks holding resource types it does not create.)
async fn physical_id(cfn: &aws_sdk_cloudformation::Client, stack: &str, logical: &str) -> String {
    let out = cfn
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    out.stack_resources()
        .iter()
        .find(|r| r.logical_resource_id() == Some(logical))
        .and_then(|r| r.physical_resource_id())
        .unwrap_or_else(|| panic!("{stack} has no {logical}"))
        .to_string()
}

/// IAM returns policy documents URL-encoded (the emulator may not).
fn policy_json(doc: &str) -> Value {
    if let Ok(v) = serde_json::from_str(doc) {
        return v;
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(out).unwrap();
    if let Ok(v) = serde_json::from_str(&text) {
        return v;
    }
    // The emulator hands back inline policies created by CloudFormation as a Python dict's repr
    // ({'Version': …}); ours hold no quotes or apostrophes of their own, so swapping is exact.
    assert!(text.starts_with("{'") && !text.contains('"'), "{text}");
    serde_json::from_str(&text.replace('\'', "\"")).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("expected a string or a list: {other}"),
    }
}

/// IAM's wildcard match: `*` any run of characters (slashes included), `?` one.
fn wild(pattern: &str, text: &str) -> bool {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(false)
        .build()
        .unwrap()
        .compile_matcher()
        .is_match(text)
}

/// One statement, flattened for checks.
#[derive(Debug)]
struct Stmt {
    sid: String,
    allow: bool,
    actions: Vec<String>,
    /// `Resource`, or `NotResource` when `not_resource`.
    resources: Vec<String>,
    not_resource: bool,
    condition: Option<Value>,
}

/// The statements of one policy document; `origin` names those without a Sid.
fn statements(v: &Value, origin: &str) -> Vec<Stmt> {
    assert_eq!(v["Version"], "2012-10-17", "{origin}");
    v["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let effect = s["Effect"].as_str().unwrap();
            assert!(effect == "Allow" || effect == "Deny", "{s}");
            let not_resource = s.get("NotResource").is_some();
            Stmt {
                sid: s["Sid"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("{origin}#{i}")),
                allow: effect == "Allow",
                actions: strings(&s["Action"]),
                resources: strings(if not_resource {
                    &s["NotResource"]
                } else {
                    &s["Resource"]
                }),
                not_resource,
                condition: s.get("Condition").cloned(),
            }
        })
        .collect()
}

/// The AWS managed policies the template attaches, as vendored under tests/fixtures/iam (the
/// emulator does not attach them): their statements.
fn managed_statements() -> Vec<Stmt> {
    [
        "AmazonSSMManagedInstanceCore",
        "CloudWatchAgentServerPolicy",
    ]
    .iter()
    .flat_map(|name| {
        let file = root().join(format!("tests/fixtures/iam/{name}.json"));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(v["PolicyName"], *name);
        statements(&v["Document"], name)
    })
    .collect()
}

/// Every statement of the role's inline policies, by policy name.
async fn role_statements(iam: &aws_sdk_iam::Client, role: &str) -> BTreeMap<String, Vec<Stmt>> {
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap()
        .policy_names()
        .to_vec();
    let mut out = BTreeMap::new();
    for name in names {
        let doc = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&name)
            .send()
            .await
            .unwrap();
        let stmts = statements(&policy_json(doc.policy_document()), &name);
        out.insert(name, stmts);
    }
    out
}

/// Whether `stmt` covers `action` on `resource` (conditions are reported, not evaluated).
fn covers(stmt: &Stmt, action: &str, resource: &str) -> bool {
    stmt.actions.iter().any(|a| wild(a, action))
        && stmt.resources.iter().any(|r| wild(r, resource)) != stmt.not_resource
}

/// The statements allowing `action` on `resource`, none when a statement denies it (IAM's rule:
/// an explicit deny wins over every allow).
fn allowing<'a>(stmts: &'a [&'a Stmt], action: &str, resource: &str) -> Vec<&'a Stmt> {
    if stmts
        .iter()
        .any(|s| !s.allow && covers(s, action, resource))
    {
        return Vec::new();
    }
    stmts
        .iter()
        .copied()
        .filter(|s| s.allow && covers(s, action, resource))
        .collect()
}

/// Actions that take no resource but `*`: the only ones allowed on `*`.
const STAR_ONLY: [&str; 7] = [
    "ses:SendEmail",
    "ses:SendRawEmail",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "ec2:DescribeTags",
    "ec2:DescribeVolumes",
    "ec2:DescribeInstances",
];

#[tokio::test]
async fn instance_type_form_grants_the_realm_and_nothing_else() {
    let r = Region::new("eu-north-1").await;
    let (region, cfn, iam) = (r.name.as_str(), &r.cfn, &r.iam);
    // A topic name, as lava's worker template takes it; the template makes the ARN.
    let topic = "lava-alarms";
    let stop = stop_lambda(&r, "lava-prod-stop").await;
    let extra = [
        REALM_AREAS[0],
        REALM_AREAS[1],
        ("swapSize", "2"),
        ("tmpVolumeSize", "40"),
        ("dockerVolumeSize", "60"),
        ("alarmTopic", topic),
        ("createHeartBeatAlarm", "Yes"),
        ("createHeartbeatLogGroup", "Yes"),
        ("heartbeatLogGroup", "/lava/fleet"),
        ("maxAllowedQueueDepth", "100"),
        ("workerBacklogScalingTarget", "5"),
        ("realmLambdasDeployed", "Yes"),
        ("stopLambdaArn", &stop),
    ];
    r.prod_worker("lava-prod-core", "ami-0123456789abcdef0", &extra)
        .await;
    realm_finds_the_worker(&r, "prod", "core", &stop).await;
    // The heartbeat group this stack was asked to make, missing before.
    let groups = aws_cli(
        &r.name,
        &[
            "logs",
            "describe-log-groups",
            "--log-group-name-prefix",
            "/lava/fleet",
        ],
    );
    assert_eq!(
        groups["logGroups"][0]["logGroupName"], "/lava/fleet",
        "{groups}"
    );

    // The role, named as lava names it: the stack's own policy, the isolation denies and the
    // realm policy, statement by statement, with the AWS managed policies' statements.
    let role = physical_id(cfn, "lava-prod-core", "WorkerRole").await;
    assert_eq!(role, "lava-prod-worker-core");
    let policies = role_statements(iam, &role).await;
    assert_eq!(
        policies.keys().collect::<Vec<_>>(),
        ["lava-isolation", "lava-realm", "lava-worker"]
    );
    let managed = managed_statements();
    let inline: Vec<&Stmt> = policies.values().flatten().collect();
    let all: Vec<&Stmt> = inline.iter().copied().chain(managed.iter()).collect();
    let arn = |service: &str, rest: &str| format!("arn:aws:{service}:{region}:{ACCOUNT}:{rest}");
    let queue_arn = arn("sqs", "lava-prod-core");
    let key = arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let reachable: Vec<(&str, String)> = vec![
        ("sqs:ReceiveMessage", queue_arn.clone()),
        ("sqs:DeleteMessage", queue_arn.clone()),
        ("sqs:ChangeMessageVisibility", queue_arn.clone()),
        ("dynamodb:GetItem", arn("dynamodb", "table/lava.realms")),
        ("dynamodb:GetItem", arn("dynamodb", "table/lava.prod.jobs")),
        (
            "dynamodb:Query",
            arn("dynamodb", "table/lava.prod.jobs/index/owner"),
        ),
        (
            "dynamodb:GetItem",
            arn("dynamodb", "table/lava.prod.connections"),
        ),
        ("dynamodb:PutItem", arn("dynamodb", "table/lava.prod.state")),
        (
            "dynamodb:PutItem",
            arn("dynamodb", "table/lava.prod.events"),
        ),
        (
            "dynamodb:UpdateItem",
            arn("dynamodb", "table/lava.prod.state"),
        ),
        (
            "s3:PutObject",
            "arn:aws:s3:::lava-prod-tmp/lava/prod/tmp/job/run/logs".into(),
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::lava-prod-tmp/lava/prod/tmp/job/run/out.csv".into(),
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::lava-prod-payloads/lava/prod/payloads/job.zip".into(),
        ),
        ("s3:ListBucket", "arn:aws:s3:::lava-prod-payloads".into()),
        (
            "s3:GetObject",
            "arn:aws:s3:::lava-code/lava/prod/core/root.boot0.sh".into(),
        ),
        ("kms:Decrypt", key.clone()),
        ("kms:GenerateDataKey", key.clone()),
        (
            "ssm:GetParameter",
            arn("ssm", "parameter/lava/prod/conn/db/password"),
        ),
        ("ssm:GetParametersByPath", arn("ssm", "parameter/lava/prod")),
        ("ecr:GetAuthorizationToken", "*".into()),
        (
            "ecr:BatchGetImage",
            arn("ecr", "repository/dist/lava/amzn2023/full"),
        ),
        (
            "ecr:GetDownloadUrlForLayer",
            arn("ecr", "repository/lava/prod/etl/loader"),
        ),
        (
            "ecr:BatchCheckLayerAvailability",
            arn("ecr", "repository/lava/prod/x"),
        ),
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/lava/prod:log-stream:i-1"),
        ),
        ("cloudwatch:PutMetricData", "*".into()),
        ("ec2:DescribeTags", "*".into()),
        (
            "ssm:GetParameter",
            arn("ssm", "parameter/AmazonCloudWatch-lava"),
        ),
        (
            "autoscaling:CompleteLifecycleAction",
            arn(
                "autoscaling",
                "autoScalingGroup:9f1e:autoScalingGroupName/lava-prod-core",
            ),
        ),
        (
            "cloudformation:SignalResource",
            arn("cloudformation", "stack/lava-prod-core/5e1d-77"),
        ),
        // Standalone: what lava's realm policy gives a worker, in this realm.
        (
            "secretsmanager:GetSecretValue",
            arn("secretsmanager", "secret:/lava/prod/conn/db-AbCdEf"),
        ),
        ("sqs:SendMessage", arn("sqs", "lava-prod-other")),
        ("sqs:SendMessage", queue_arn.clone()),
        ("sns:Publish", arn("sns", "lava-prod-notices")),
        ("ses:SendEmail", "*".into()),
        ("events:PutEvents", arn("events", "event-bus/default")),
        // The AWS managed policies: Session Manager, the agent's log group and its config.
        ("ssmmessages:OpenDataChannel", "*".into()),
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/lava/fleet:log-stream:i-1/lava"),
        ),
        // /var/log/lava as lava's boot script ships it, and /var/log/messages as the AMI does.
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/var/log/lava/prod:log-stream:core/i-1"),
        ),
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/var/log/messages:log-stream:i-1"),
        ),
        (
            "ssm:GetParameter",
            arn("ssm", "parameter/AmazonCloudWatch-linux"),
        ),
    ];
    for (action, resource) in &reachable {
        assert!(
            !allowing(&all, action, resource).is_empty(),
            "{action} on {resource} is not allowed"
        );
    }
    // Other realms, other accounts and regions, other areas: not reachable.
    let other =
        |service: &str, rest: &str| format!("arn:aws:{service}:{region}:999999999999:{rest}");
    let unreachable: Vec<(&str, String)> = vec![
        ("dynamodb:GetItem", arn("dynamodb", "table/lava.dev.jobs")),
        ("dynamodb:PutItem", arn("dynamodb", "table/lava.realms")),
        (
            "dynamodb:DeleteTable",
            arn("dynamodb", "table/lava.prod.jobs"),
        ),
        ("s3:PutObject", "arn:aws:s3:::lava-prod-tmp/other/x".into()),
        (
            "s3:PutObject",
            "arn:aws:s3:::lava-prod-payloads/lava/prod/payloads/job.zip".into(),
        ),
        ("s3:GetObject", "arn:aws:s3:::lava-code/other/x".into()),
        ("s3:ListBucket", "arn:aws:s3:::some-other-bucket".into()),
        (
            "ssm:GetParameter",
            arn("ssm", "parameter/lava/dev/conn/db/password"),
        ),
        ("ssm:PutParameter", arn("ssm", "parameter/lava/prod/x")),
        (
            "ecr:BatchGetImage",
            arn("ecr", "repository/lava/dev/etl/loader"),
        ),
        (
            "ecr:BatchGetImage",
            other("ecr", "repository/dist/lava/amzn2023/full"),
        ),
        (
            "ecr:BatchGetImage",
            format!("arn:aws:ecr:us-east-1:{ACCOUNT}:repository/lava/prod/x"),
        ),
        ("ecr:PutImage", arn("ecr", "repository/lava/prod/x")),
        ("sqs:ReceiveMessage", arn("sqs", "lava-prod-other")),
        ("sqs:SendMessage", arn("sqs", "lava-dev-core")),
        (
            "autoscaling:CompleteLifecycleAction",
            arn(
                "autoscaling",
                "autoScalingGroup:9f1e:autoScalingGroupName/lava-prod-other",
            ),
        ),
        (
            "cloudformation:SignalResource",
            arn("cloudformation", "stack/lava-prod-other/5e1d-77"),
        ),
        (
            "secretsmanager:GetSecretValue",
            arn("secretsmanager", "secret:/lava/dev/conn/db-AbCdEf"),
        ),
        ("sns:Publish", arn("sns", "lava-dev-notices")),
        // What the AWS managed policies grant account-wide, taken back by lava-isolation.
        ("ssm:GetParameter", arn("ssm", "parameter/lava/dev/conn/db")),
        (
            "ssm:GetParameters",
            arn("ssm", "parameter/lava/dev/conn/db"),
        ),
        (
            "ssm:GetParameter",
            arn("ssm", "parameter/other-app/password"),
        ),
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/lava/dev:log-stream:i-1"),
        ),
        (
            "logs:CreateLogGroup",
            arn("logs", "log-group:/aws/lambda/payroll"),
        ),
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/lava/prodx:log-stream:i-1"),
        ),
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/lava/dev:log-stream:i-1"),
        ),
        ("kms:ScheduleKeyDeletion", key.clone()),
        // The shared system group is written to, never read: it holds every realm's lines.
        (
            "logs:GetLogEvents",
            arn("logs", "log-group:/var/log/messages:log-stream:i-1"),
        ),
        (
            "logs:PutLogEvents",
            arn("logs", "log-group:/var/log/lava/dev:log-stream:core/i-1"),
        ),
    ];
    for (action, resource) in &unreachable {
        let hits = allowing(&all, action, resource);
        assert!(
            hits.is_empty(),
            "{action} on {resource} is allowed by {hits:?}"
        );
    }
    // Nothing account-wide: `*` only for actions that take nothing else; wildcards in an ARN
    // only under the realm, or narrowed by a condition on the realm.
    for s in inline.iter().filter(|s| s.allow) {
        if s.resources.iter().any(|r| r == "*") {
            for a in &s.actions {
                assert!(STAR_ONLY.contains(&a.as_str()), "{a} on * in {}", s.sid);
            }
        }
        for a in &s.actions {
            assert!(!a.contains('*'), "wildcard action {a} in {}", s.sid);
        }
    }
    let sid = |name: &str| -> &Stmt {
        all.iter()
            .find(|s| s.sid == name)
            .unwrap_or_else(|| panic!("no statement {name}"))
    };
    // KMS keys: any key id, but only the realm's two keys by their exact aliases.
    let keys = sid("RealmKeys");
    assert_eq!(keys.resources, [arn("kms", "key/*")]);
    assert_eq!(
        keys.condition.as_ref().unwrap()["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
        serde_json::json!(["alias/lava-prod-sys", "alias/lava-prod-user"])
    );
    // ECR pulls exactly as seed 000 says: dist/lava/* and lava/<realm>/* of this account+region.
    let pull = sid("EcrPull");
    assert_eq!(
        pull.resources,
        [
            arn("ecr", "repository/dist/lava/*"),
            arn("ecr", "repository/lava/prod/*")
        ]
    );
    assert_eq!(
        pull.actions,
        [
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer"
        ]
    );
    assert_eq!(sid("EcrLogin").actions, ["ecr:GetAuthorizationToken"]);
    assert_eq!(sid("EcrLogin").resources, ["*"]);

    // The launch template: IMDSv2 with two hops, monitoring, encrypted gp3 volumes, user data.
    let data = r.launch_template("lava-prod-core", None).await;
    let md = data.metadata_options().unwrap();
    assert_eq!(md.http_tokens().unwrap().as_str(), "required");
    assert_eq!(md.http_put_response_hop_limit(), Some(2));
    assert_eq!(md.http_endpoint().unwrap().as_str(), "enabled");
    assert_eq!(data.instance_type().map(|t| t.as_str()), Some("t3.medium"));
    let disks: Vec<(String, i32, bool, String)> = data
        .block_device_mappings()
        .iter()
        .map(|b| {
            let e = b.ebs().unwrap();
            (
                b.device_name().unwrap().to_string(),
                e.volume_size().unwrap(),
                e.encrypted().unwrap(),
                e.volume_type().unwrap().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        disks,
        [
            ("/dev/xvda".to_string(), 30, true, "gp3".to_string()),
            ("/dev/sdb".to_string(), 40, true, "gp3".to_string()),
            ("/dev/sdc".to_string(), 60, true, "gp3".to_string()),
        ]
    );
    let shell0 = check_user_data(region, "core", data.user_data().unwrap(), 2, true, true);
    mount_volume_behaves(&shell0);

    // The group: the instance type as the mixed instances override, the first template version.
    let (group, g) = r.group("lava-prod-core").await;
    let mip = g
        .mixed_instances_policy()
        .unwrap()
        .launch_template()
        .unwrap();
    assert_eq!(
        mip.launch_template_specification().unwrap().version(),
        Some("1")
    );
    assert_eq!(mip.overrides()[0].instance_type(), Some("t3.medium"));
    assert!(mip.overrides()[0].instance_requirements().is_none());
    let tags: BTreeMap<&str, &str> = g
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(
        group, "lava-prod-core",
        "the name the realm's lambdas look for"
    );
    assert_eq!(tags["LavaRealm"], "prod");
    assert_eq!(tags["LavaWorker"], "core");
    assert_eq!(tags["Name"], "lava-prod-core");

    // The queue, named for the worker.
    let outputs = cfn
        .describe_stacks()
        .stack_name("lava-prod-core")
        .send()
        .await
        .unwrap();
    let outputs: BTreeMap<&str, &str> = outputs.stacks()[0]
        .outputs()
        .iter()
        .map(|o| (o.output_key().unwrap(), o.output_value().unwrap()))
        .collect();
    assert!(
        outputs["QueueUrl"].ends_with("/lava-prod-core"),
        "{outputs:?}"
    );
    assert_eq!(outputs["QueueArn"], queue_arn);
    assert!(outputs["RoleArn"].ends_with(&format!("role/{role}")));
    assert_eq!(outputs["AutoScalingGroup"], group);
}

/// Runs the AWS CLI of build/venv against the emulator in `region`: its JSON answer.
fn aws_cli(region: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new(root().join("build/venv/bin/aws"))
        .args([
            "--endpoint-url",
            &moto(),
            "--region",
            region,
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("the AWS CLI in build/venv (scripts/test-services.sh install)");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A function standing in for the realm's stop lambda (never invoked: the emulator holds its
/// policy and the rule's target): its ARN.
async fn stop_lambda(r: &Region, name: &str) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = r
        .iam
        .create_role()
        .role_name(format!("{name}-{}-role", r.name))
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("stop.zip");
    // An empty zip archive (its end-of-central-directory record alone): the code is never run.
    let mut empty = b"PK\x05\x06".to_vec();
    empty.extend_from_slice(&[0; 18]);
    std::fs::write(&zip, empty).unwrap();
    let f = aws_cli(
        &r.name,
        &[
            "lambda",
            "create-function",
            "--function-name",
            name,
            "--runtime",
            "python3.12",
            "--handler",
            "stop.lambda_handler",
            "--role",
            role.role().unwrap().arn(),
            "--zip-file",
            &format!("fileb://{}", zip.display()),
        ],
    );
    f["FunctionArn"].as_str().unwrap().to_string()
}

/// What a lava realm relies on, read back from the emulator: the queue lava-<realm>-<worker>
/// encrypted with the realm's user key (what its dispatch lambda may use), the terminating rule
/// handing the lifecycle action's detail to the stop lambda, the lambda's permission for that
/// rule, and the stack's exports.
async fn realm_finds_the_worker(r: &Region, realm: &str, worker: &str, stop: &str) {
    let name = format!("lava-{realm}-{worker}");
    let url = aws_cli(&r.name, &["sqs", "get-queue-url", "--queue-name", &name]);
    let url = url["QueueUrl"].as_str().unwrap();
    let attrs = aws_cli(
        &r.name,
        &[
            "sqs",
            "get-queue-attributes",
            "--queue-url",
            url,
            "--attribute-names",
            "KmsMasterKeyId",
        ],
    );
    assert_eq!(
        attrs["Attributes"]["KmsMasterKeyId"],
        format!("alias/lava-{realm}-user")
    );
    let tags = aws_cli(&r.name, &["sqs", "list-queue-tags", "--queue-url", url]);
    assert_eq!(tags["Tags"]["LavaRealm"], realm, "{tags}");
    assert_eq!(tags["Tags"]["LavaWorker"], worker, "{tags}");

    let rule_name = format!("{name}-terminating");
    let rule = aws_cli(&r.name, &["events", "describe-rule", "--name", &rule_name]);
    assert_eq!(rule["State"], "ENABLED");
    let pattern: Value = serde_json::from_str(rule["EventPattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
            "detail": {"AutoScalingGroupName": [name]}
        })
    );
    let targets = aws_cli(
        &r.name,
        &["events", "list-targets-by-rule", "--rule", &rule_name],
    );
    let target = &targets["Targets"][0];
    assert_eq!(
        (&target["Arn"], &target["InputPath"]),
        (&Value::from(stop), &Value::from("$.detail"))
    );
    let policy = aws_cli(&r.name, &["lambda", "get-policy", "--function-name", stop]);
    let policy: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
    let grants: Vec<(&Value, &Value)> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                &s["Principal"]["Service"],
                &s["Condition"]["ArnLike"]["AWS:SourceArn"],
            )
        })
        .collect();
    assert_eq!(
        grants,
        [(&Value::from("events.amazonaws.com"), &rule["Arn"])],
        "{policy}"
    );

    let exports = r.cfn.list_exports().send().await.unwrap();
    let mut names: Vec<&str> = exports
        .exports()
        .iter()
        .filter_map(|e| e.name())
        .filter(|n| n.starts_with(&format!("lava:{realm}:{worker}:")))
        .collect();
    names.sort();
    let prefix = format!("lava:{realm}:{worker}:");
    let expected: Vec<String> = [
        "autoScalingGroup",
        "launchTemplate",
        "queueArn",
        "queueUrl",
        "roleArn",
        "version",
    ]
    .iter()
    .map(|n| format!("{prefix}{n}"))
    .collect();
    assert_eq!(names, expected);
    // lava's Version export: the lava version, as lava's worker template has it.
    let version = exports
        .exports()
        .iter()
        .find(|e| e.name() == Some(&format!("{prefix}version")))
        .and_then(|e| e.value());
    assert_eq!(version, Some("8.3.0"));
}

/// The user data as lava-rc reads it: keys, swap, the boot scripts through s3run, and the shell0
/// script clean under shellcheck.
fn check_user_data(
    region: &str,
    worker: &str,
    b64: &str,
    swap: u64,
    tmp: bool,
    docker: bool,
) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let data = userdata::parse(&raw).unwrap().expect("user data");
    assert!(userdata::unknown_keys(&data).is_empty(), "{data:?}");
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    assert_eq!(keys, ["shell", "shell0", "swap"]);
    let spec = userdata::swap(&data["swap"]).unwrap();
    assert_eq!(spec.map(|s| s.size_gib), (swap > 0).then_some(swap));
    let shell = userdata::commands("shell", &data["shell"]).unwrap();
    assert!(
        shell.contains(&format!(
            "\n/usr/local/bin/s3run s3://lava-code/lava/prod/{worker}/root.boot.sh s3://lava-code/lava prod {worker}\n"
        )),
        "{shell}"
    );
    shellcheck_clean("shell", &shell);
    signal_step_behaves(region, worker, &shell);
    let shell0 = userdata::commands("shell0", &data["shell0"]).unwrap();
    let lines: Vec<&str> = shell0.lines().collect();
    assert_eq!(
        lines[lines.len() - 4..],
        [
            &*format!(
                "/usr/local/bin/s3run s3://lava-code/lava/prod/{worker}/root.boot0.sh s3://lava-code/lava prod {worker}"
            ),
            "boot0=$?",
            "if [ \"$boot0\" -ne 0 ]; then exit \"$boot0\"; fi",
            "exit \"$failed\"",
        ],
        "boot0's own exit status, else the volumes'"
    );
    let tmp_line = if tmp { "tmp_gib=40" } else { "tmp_gib=0" };
    assert!(shell0.contains(tmp_line), "{shell0}");
    assert!(shell0.contains("mount_volume /tmp /dev/sdb /dev/xvdb"));
    let docker_line = if docker {
        "docker_gib=60"
    } else {
        "docker_gib=0"
    };
    assert!(shell0.contains(docker_line), "{shell0}");
    assert!(shell0.contains("mount_volume /var/lib/docker /dev/sdc /dev/xvdc"));
    shellcheck_clean("shell0", &shell0);
    shell0
}

/// `script` (a user data step) is clean under shellcheck.
fn shellcheck_clean(step: &str, script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{step}.sh"));
    std::fs::write(&file, format!("#!/bin/bash\n{script}\n")).unwrap();
    let out = std::process::Command::new("shellcheck")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("shellcheck is missing (scripts/test-services.sh install): {e}")
        });
    assert!(
        out.status.success(),
        "{step} of the user data:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The roll-out gate's step: `shell` run by bash with s3run (called by name here, not by its
/// path), curl (IMDS) and aws as shell functions recording their calls. root.boot.sh exiting 0
/// signals SUCCESS, exiting 3 signals FAILURE, for this instance and stack; the step exits with
/// root.boot.sh's status, also when the signal itself is refused (after a reboot).
fn signal_step_behaves(region: &str, worker: &str, shell: &str) {
    let script = shell.replace("/usr/local/bin/s3run ", "s3run ");
    assert_ne!(script, shell);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prelude = r#"work=$1 boot_status=$2 aws_status=$3
s3run() { echo "s3run $*" >>"$work/calls"; return "$boot_status"; }
curl() {
  case "$*" in
    *"-X PUT"*/latest/api/token*) echo token-1 ;;
    *"X-aws-ec2-metadata-token: token-1"*/meta-data/instance-id*) echo i-0abc ;;
    *) echo "curl $*" >&2; return 22 ;;
  esac
}
aws() { echo "aws $*" >>"$work/calls"; return "$aws_status"; }
"#;
    std::fs::write(d.join("step.sh"), format!("{prelude}{script}\n")).unwrap();
    for (boot, aws, outcome) in [(0, 0, "SUCCESS"), (3, 0, "FAILURE"), (0, 255, "SUCCESS")] {
        let _ = std::fs::remove_file(d.join("calls"));
        let out = std::process::Command::new("bash")
            .arg(d.join("step.sh"))
            .arg(d)
            .args([boot.to_string(), aws.to_string()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(boot), "{stderr}");
        let calls = std::fs::read_to_string(d.join("calls")).unwrap();
        let lines: Vec<&str> = calls.lines().collect();
        assert_eq!(
            lines,
            [
                &format!(
                    "s3run s3://lava-code/lava/prod/{worker}/root.boot.sh s3://lava-code/lava prod {worker}"
                ),
                &format!(
                    "aws cloudformation signal-resource --region {region} --stack-name lava-prod-{worker} \
                     --logical-resource-id WorkerGroup --unique-id i-0abc --status {outcome}"
                ),
            ],
            "boot {boot}, aws {aws}: {stderr}"
        );
        assert_eq!(stderr.contains("failed (refused"), aws != 0, "{stderr}");
    }
}

/// Runs shell0's `mount_volume` as root in a private mount namespace: a loop device (through a
/// symbolic link, as udev gives /dev/sdb) stands in for the EBS volume, a bind-mounted file for
/// /etc/fstab, shell functions for systemctl and udevadm. First boot: made xfs, one fstab line,
/// mounted; again: nothing to do; after an unmount: mounted from the same filesystem (nothing
/// reformatted), still one fstab line; no device: an error naming it.
fn mount_volume_behaves(shell0: &str) {
    let start = shell0.find("mount_volume() {").unwrap();
    let end = start + shell0[start..].find("\n}\n").unwrap() + 3;
    let function = &shell0[start..end];
    for tool in ["mkfs.xfs", "losetup", "unshare", "findmnt", "blkid"] {
        which::which(tool).unwrap_or_else(|_| {
            panic!("{tool} is missing (xfsprogs, util-linux): scripts/test-services.sh install")
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("function.sh"), function).unwrap();
    let driver = r#"set -u
work=$1
. "$work/function.sh"
systemctl() { echo "systemctl $*" >>"$work/calls"; }
udevadm() { :; }
truncate -s 300M "$work/disk.img"
loopdev=$(losetup -f --show "$work/disk.img") || exit 3
trap 'umount "$work/target" 2>/dev/null; losetup -d "$loopdev"' EXIT
ln -s "$loopdev" "$work/sdb"
printf '# fstab of the test\n' >"$work/fstab"
mount --bind "$work/fstab" /etc/fstab || exit 4
mount_volume "$work/target" "$work/no-such-device" "$work/sdb"; echo "first=$?"
echo "mounted=$(findmnt -rn -o SOURCE,FSTYPE --mountpoint "$work/target")"
echo "dev=$loopdev"
echo kept >"$work/target/file"
mount_volume "$work/target" "$work/sdb"; echo "second=$?"
umount "$work/target"
mount_volume "$work/target" "$work/sdb"; echo "third=$?"
echo "file=$(cat "$work/target/file")"
grep -c UUID= /etc/fstab | sed 's/^/fstab_lines=/'
grep UUID= /etc/fstab | sed 's/^UUID=[^ ]* /fstab=/'
mount_volume "$work/other" "$work/gone"; echo "missing=$?"
echo "globals=${dir-}${uuid-}${d-}"
"#;
    std::fs::write(d.join("driver.sh"), driver).unwrap();
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash"])
        .arg(d.join("driver.sh"))
        .arg(d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let get = |k: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in:\n{stdout}{stderr}"))
            .to_string()
    };
    let work = d.display();
    assert_eq!(get("first"), "0", "{stdout}{stderr}");
    assert_eq!(get("mounted"), format!("{} xfs", get("dev")));
    assert!(stdout.contains(&format!("{work}/target: mounted {}", get("dev"))));
    assert_eq!(get("second"), "0");
    assert!(stdout.contains(&format!("{work}/target: {} already mounted", get("dev"))));
    assert_eq!(get("third"), "0");
    assert_eq!(get("file"), "kept", "the filesystem was not made again");
    assert_eq!(get("fstab_lines"), "1");
    assert_eq!(
        get("fstab"),
        format!("{work}/target xfs defaults,nofail,x-systemd.before=local-fs.target 0 2")
    );
    assert_eq!(get("missing"), "1");
    assert_eq!(get("globals"), "", "the function's variables are its own");
    assert!(stderr.contains(&format!(
        "volume for {work}/other: no block device {work}/gone"
    )));
    let calls = std::fs::read_to_string(d.join("calls")).unwrap();
    assert!(
        calls.lines().all(|l| l == "systemctl daemon-reload"),
        "{calls}"
    );
}

#[tokio::test]
async fn attribute_form_with_a_realm_policy() {
    let r = Region::new("eu-south-1").await;
    let (cfn, iam) = (&r.cfn, &r.iam);
    let realm_policy = format!("arn:aws:iam::{ACCOUNT}:policy/lava-prod-realm");
    // The realm's stop lambda as lava's worker template finds it: the realm stack's export.
    let stop = stop_lambda(&r, "lava-prod-stop").await;
    realm_exports(
        cfn,
        "lava-prod-realm",
        &[("lava:prod:lambdaLavaStop", &stop)],
    )
    .await;
    let extra = [
        ("realmLambdasDeployed", "Yes"),
        ("realmPolicyArn", realm_policy.as_str()),
        ("workerInstanceType", ""),
        ("workerVCpuMin", "4"),
        ("workerVCpuMax", "16"),
        ("workerMemoryMin", "8192"),
        ("workerAllowedInstances", "m7i.*,c7i.*"),
        ("workerBurstable", "excluded"),
    ];
    r.prod_worker("lava-prod-attr", "ami-0123456789abcdef0", &extra)
        .await;
    realm_finds_the_worker(&r, "prod", "attr", &stop).await;
    // With a realm policy, the stack grants only what is its own (queue, boot scripts, ECR pulls,
    // logs, the agent, the hook): no realm statements of its own.
    let role = physical_id(cfn, "lava-prod-attr", "WorkerRole").await;
    let policies = role_statements(iam, &role).await;
    assert_eq!(
        policies.keys().collect::<Vec<_>>(),
        ["lava-isolation", "lava-worker"]
    );
    let sids: Vec<&str> = policies["lava-worker"]
        .iter()
        .map(|s| s.sid.as_str())
        .collect();
    assert!(
        sids.contains(&"EcrPull") && sids.contains(&"Queue"),
        "{sids:?}"
    );
    for s in &policies["lava-worker"] {
        for a in &s.actions {
            assert!(!a.starts_with("dynamodb:") && !a.starts_with("kms:"), "{a}");
        }
    }

    let data = r.launch_template("lava-prod-attr", None).await;
    assert!(
        data.instance_type().is_none(),
        "the attributes choose the type"
    );
    assert_eq!(
        data.block_device_mappings().len(),
        1,
        "no tmp or docker volume"
    );
    check_user_data(&r.name, "attr", data.user_data().unwrap(), 0, false, false);

    let (_, g) = r.group("lava-prod-attr").await;
    let over = &g
        .mixed_instances_policy()
        .unwrap()
        .launch_template()
        .unwrap()
        .overrides()[0];
    assert!(over.instance_type().is_none());
    let req = over.instance_requirements().unwrap();
    let vcpu = req.v_cpu_count().unwrap();
    assert_eq!((vcpu.min(), vcpu.max()), (Some(4), Some(16)));
    let mem = req.memory_mib().unwrap();
    assert_eq!((mem.min(), mem.max()), (Some(8192), None));
    assert_eq!(req.allowed_instance_types(), ["m7i.*", "c7i.*"]);
    assert_eq!(req.burstable_performance().unwrap().as_str(), "excluded");

    // lava-ami sees it as a worker stack although it has no instance type.
    let out = r.lava_ami_cmd(&["--output", "json"]).output().unwrap();
    succeeded(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(each_field(&v["stacks"], "name"), ["lava-prod-attr"]);
}

#[tokio::test]
async fn lava_ami_update_moves_the_group_to_a_new_launch_template_version() {
    let r = Region::new("eu-west-1").await;
    let mut amis = Vec::new();
    for (time, key) in [
        ("2025-01-01T00-00-00Z", "PythonVersion"),
        ("2025-02-01T00-00-00Z", "PYTHON_VERSION"),
    ] {
        let name = format!("lava-8.3.0-amzn2023-py3.12-x86_64-{time}");
        amis.push(r.lava_ami(&name, &[(key, "3.12.11")]).await);
    }
    r.prod_worker("lava-prod-roll", &amis[0], &REALM_AREAS)
        .await;
    // The version of the launch template the group launches.
    let group_version = async || {
        let (name, g) = r.group("lava-prod-roll").await;
        let version = g
            .mixed_instances_policy()
            .unwrap()
            .launch_template()
            .unwrap()
            .launch_template_specification()
            .unwrap()
            .version()
            .unwrap()
            .to_string();
        (name, version)
    };
    assert_eq!(group_version().await.1, "1");

    let text = succeeded(&r.roll_to_latest("lava-prod-roll", &[]));
    assert!(
        text.contains(&format!(
            "lava-prod-roll: {} -> {} UPDATE_COMPLETE",
            amis[0], amis[1]
        )),
        "{text}"
    );
    // The group now launches version 2, which holds the new AMI, and lava-ami says so.
    let (group, version) = group_version().await;
    assert_eq!(version, "2");
    let v2 = r.launch_template("lava-prod-roll", Some("2")).await;
    assert_eq!(v2.image_id(), Some(amis[1].as_str()));
    assert!(
        text.contains(&format!("  group {group}: launch template version 2, ")),
        "{text}"
    );

    // Back to the first AMI, as JSON: the group's report is in `replacement`.
    let out = r
        .lava_ami_cmd(&[
            "-U",
            "lava-prod-roll",
            "--ami",
            &amis[0],
            "--yes",
            "--poll-seconds",
            "1",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["status"], "UPDATE_COMPLETE");
    let (group, _) = group_version().await;
    let replaced = &v[0]["replacement"][0];
    assert_eq!(replaced["group"], group.as_str());
    assert_eq!(replaced["launch_template_version"], "3");
    assert_eq!(replaced["instances"], 1);
}

#[test]
fn an_unreachable_endpoint_is_one_line_naming_the_call() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = bin("lava-ami")
        .args(["--region", "eu-west-1"])
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let err = one_line_failure(&out);
    assert!(
        err.starts_with("error: DescribeImages of this account: cannot reach the AWS endpoint"),
        "{err}"
    );
}

#[test]
fn wait_minutes_are_bounded() {
    let with_wait = |minutes: &str| {
        bin("lava-ami")
            .args(["-U", "lava-prod-*", "--ami", "latest", "--yes"])
            .args(["--wait-minutes", minutes])
            .output()
            .unwrap()
    };
    for bad in ["0", "1441", "99999999999999999999"] {
        let out = with_wait(bad);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("error: ") && err.contains("--wait-minutes") && err.contains(bad),
            "{err}"
        );
    }
    let out = with_wait("1441");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1..=1440"));
}

/// A tagged YAML node (`!If`, `!Ref`, …) as (tag, value).
fn tagged(v: &Yaml) -> (String, &Yaml) {
    match v {
        Yaml::Tagged(t) => (t.tag.to_string(), &t.value),
        other => panic!("expected a tagged node, got {other:?}"),
    }
}

/// What the emulator does not create, read in the template: the rolling update policy, the
/// backlog scaling policy, the terminate hook, the heartbeat filter and alarms, the managed
/// policies, the parameter groups.
#[test]
fn what_the_emulator_lacks_is_in_the_template() {
    let t = template();
    let r = &t["Resources"];
    let group = &r["WorkerGroup"];
    let rolling = &group["UpdatePolicy"]["AutoScalingRollingUpdate"];
    assert_eq!(
        tagged(&rolling["MaxBatchSize"]),
        ("!Ref".into(), &Yaml::from("updateBatchSize"))
    );
    assert_eq!(
        tagged(&rolling["MinInstancesInService"]),
        ("!Ref".into(), &Yaml::from("updateMinInService"))
    );
    let lt_version = tagged(
        &group["Properties"]["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
            ["Version"],
    );
    assert_eq!(
        lt_version,
        (
            "!GetAtt".into(),
            &Yaml::from("LaunchTemplate.LatestVersionNumber")
        )
    );

    let scaling = &r["BacklogScaling"];
    assert_eq!(scaling["Type"], "AWS::AutoScaling::ScalingPolicy");
    assert_eq!(scaling["Properties"]["PolicyType"], "TargetTrackingScaling");
    let metric =
        &scaling["Properties"]["TargetTrackingConfiguration"]["CustomizedMetricSpecification"];
    assert_eq!(
        (&metric["Namespace"], &metric["MetricName"]),
        (&Yaml::from("Lava"), &Yaml::from("WorkerBacklog"))
    );
    let dims: Vec<(String, String)> = metric["Dimensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["Name"].as_str().unwrap().to_string(),
                tagged(&d["Value"]).1.as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        dims,
        [
            ("Realm".into(), "realm".into()),
            ("Worker".into(), "worker".into())
        ]
    );

    let hook = &r["TerminateHook"]["Properties"];
    assert_eq!(
        hook["LifecycleTransition"],
        "autoscaling:EC2_INSTANCE_TERMINATING"
    );
    assert_eq!(hook["DefaultResult"], "CONTINUE");
    assert_eq!(hook["LifecycleHookName"], "terminate");
    // Hook, rule and permission come and go together: a hook with nothing behind it would hold
    // every terminating instance for terminateTimeout and then end it mid-job.
    for wired in ["TerminateHook", "TerminatingRule", "StopLambdaPermission"] {
        assert_eq!(r[wired]["Condition"], "StopLambdaDeployed", "{wired}");
    }

    // The roll-out gate: creation waits for workerInstancesDesired signals, each replacement batch
    // for its instances' signals within the pause; all must succeed (else the update fails and
    // CloudFormation rolls back). The signal's sender is tested in signal_step_behaves.
    let signal = &group["CreationPolicy"]["ResourceSignal"];
    assert_eq!(
        tagged(&signal["Count"]),
        ("!Ref".into(), &Yaml::from("workerInstancesDesired"))
    );
    assert_eq!(
        tagged(&signal["Timeout"]),
        ("!Sub".into(), &Yaml::from("PT${signalMinutes}M"))
    );
    assert_eq!(rolling["WaitOnResourceSignals"], Yaml::from(true));
    assert_eq!(rolling["MinSuccessfulInstancesPercent"], Yaml::from(100));
    assert_eq!(
        tagged(&rolling["PauseTime"]),
        ("!Sub".into(), &Yaml::from("PT${signalMinutes}M"))
    );

    // Two alarms, two switches; the heartbeat alarm watches this worker's lines only.
    assert_eq!(r["HeartbeatFilter"]["Condition"], "HasHeartbeatAlarm");
    assert_eq!(r["HeartbeatAlarm"]["Condition"], "HasHeartbeatAlarm");
    assert_eq!(r["QueueDepthAlarm"]["Condition"], "HasQueueDepthAlarm");
    assert_eq!(r["HeartbeatLogGroup"]["Condition"], "MakeHeartbeatLogGroup");
    let conds = &t["Conditions"];
    let text = |v: &Yaml| serde_yaml::to_string(v).unwrap();
    assert!(text(&conds["HasHeartbeatAlarm"]).contains("createHeartBeatAlarm"));
    assert!(!text(&conds["HasHeartbeatAlarm"]).contains("maxAllowedQueueDepth"));
    assert!(text(&conds["HasQueueDepthAlarm"]).contains("maxAllowedQueueDepth"));
    assert!(!text(&conds["HasQueueDepthAlarm"]).contains("createHeartBeatAlarm"));
    assert_eq!(r["HeartbeatFilter"]["Type"], "AWS::Logs::MetricFilter");
    let filter = &r["HeartbeatFilter"]["Properties"];
    assert_eq!(
        tagged(&filter["FilterPattern"]),
        (
            "!Sub".into(),
            &Yaml::from(
                "{$.event_source=\"lava-worker\" && $.event_type=\"heartbeat\" && $.realm=\"${realm}\" && $.worker=\"${worker}\"}"
            )
        ),
        "lava's own pattern: this worker's JSON heartbeat records"
    );
    assert!(
        filter["MetricTransformations"][0]
            .get("DefaultValue")
            .is_none(),
        "no line, no data point: a DefaultValue would count every other line as a 0"
    );
    // The default group is lava's, /var/log/lava/<realm>, where lava's worker boot script has the
    // AMI's CloudWatch agent ship /var/log/lava (the AMI ships /var/log/messages only).
    let agent: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("ami/os/amzn2023/resources/cloudwatch/agent.json"))
            .unwrap(),
    )
    .unwrap();
    let shipped: Vec<&str> = agent["logs"]["logs_collected"]["files"]["collect_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_path"].as_str().unwrap())
        .collect();
    assert_eq!(shipped, ["/var/log/messages"]);
    assert_eq!(
        t["Parameters"]["heartbeatLogGroup"]["Default"].as_str(),
        Some("")
    );
    assert_eq!(
        text(&r["HeartbeatLogGroup"]["Properties"]["LogGroupName"]).trim(),
        "!If\n- OwnHeartbeatLogGroup\n- !Ref heartbeatLogGroup\n- !Sub /var/log/lava/${realm}"
    );
    let (tag, group_name) = tagged(&filter["LogGroupName"]);
    assert_eq!(tag, "!If");
    assert_eq!(group_name[0], "MakeHeartbeatLogGroup");
    let alarm = &r["HeartbeatAlarm"]["Properties"];
    // alarmTopic is a topic name, as in lava's template: both alarms notify the topic of that name
    // in the stack's partition, account and region (the emulator makes no alarms to read back).
    let topic_arn = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${alarmTopic}";
    for name in ["HeartbeatAlarm", "QueueDepthAlarm"] {
        for actions in ["AlarmActions", "OKActions"] {
            let list = r[name]["Properties"][actions].as_sequence().unwrap();
            assert_eq!(list.len(), 1, "{name}.{actions}");
            assert_eq!(
                tagged(&list[0]),
                ("!Sub".into(), &Yaml::from(topic_arn)),
                "{name}.{actions}"
            );
        }
    }
    let (tag, missing) = tagged(&alarm["TreatMissingData"]);
    assert_eq!(tag, "!If");
    assert_eq!(
        missing.as_sequence().unwrap().as_slice(),
        [
            Yaml::from("MayBeEmpty"),
            Yaml::from("notBreaching"),
            Yaml::from("breaching")
        ]
    );
    assert_eq!(
        text(&conds["MayBeEmpty"]).trim(),
        "!Equals\n- !Ref workerInstancesMin\n- '0'"
    );
    let metric_name = |v: &Yaml| tagged(v).1.as_str().unwrap().to_string();
    assert_eq!(
        metric_name(&filter["MetricTransformations"][0]["MetricName"]),
        metric_name(&alarm["MetricName"]),
        "the alarm watches the filter's metric"
    );

    // lava's name rules, so that the realm's lambdas can take names apart.
    assert_eq!(
        t["Parameters"]["realm"]["AllowedPattern"],
        "[a-z][a-z0-9_]{2,10}"
    );
    assert_eq!(
        t["Parameters"]["worker"]["AllowedPattern"],
        "[a-z][-a-z0-9_]{2,10}"
    );

    // Managed policies (the emulator ignores ManagedPolicyArns): SSM core and the CloudWatch
    // agent in both branches, the realm policy only when given.
    let (tag, arns) = tagged(&r["WorkerRole"]["Properties"]["ManagedPolicyArns"]);
    assert_eq!(tag, "!If");
    assert_eq!(arns[0], "HasRealmPolicy");
    for (branch, n) in [(1, 3), (2, 2)] {
        let list = arns[branch].as_sequence().unwrap();
        assert_eq!(list.len(), n);
        let subs: Vec<String> = list.iter().map(|a| format!("{:?}", tagged(a))).collect();
        assert!(subs[0].contains("policy/AmazonSSMManagedInstanceCore"));
        assert!(subs[1].contains("policy/CloudWatchAgentServerPolicy"));
    }

    // CloudFormation's Fn::Equals takes strings (a bare 0 fails the template; the emulator accepts
    // it), and every parameter compared with "0" is a String.
    fn equals_operands(v: &Yaml, out: &mut Vec<Yaml>) {
        match v {
            Yaml::Tagged(t) if t.tag == "!Equals" => {
                out.extend(t.value.as_sequence().unwrap().iter().cloned())
            }
            Yaml::Tagged(t) => equals_operands(&t.value, out),
            Yaml::Sequence(items) => items.iter().for_each(|i| equals_operands(i, out)),
            Yaml::Mapping(m) => m.values().for_each(|i| equals_operands(i, out)),
            _ => {}
        }
    }
    let mut operands = Vec::new();
    equals_operands(&t["Conditions"], &mut operands);
    equals_operands(&t["Rules"], &mut operands);
    assert!(operands.len() >= 20, "{operands:?}");
    for o in &operands {
        match o {
            Yaml::String(_) => {}
            Yaml::Tagged(r) if r.tag == "!Ref" => {
                let name = r.value.as_str().unwrap();
                let ty = &t["Parameters"][name]["Type"];
                assert!(
                    ty.as_str().unwrap().starts_with("String")
                        || ty.as_str().unwrap().starts_with("CommaDelimited"),
                    "{name} compared but of type {ty:?}"
                );
            }
            Yaml::Tagged(_) => {}
            other => panic!("Fn::Equals operand {other:?} is not a string"),
        }
    }

    // Every parameter in exactly one group of the console's interface.
    let groups = t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        .as_sequence()
        .unwrap();
    let mut grouped: Vec<String> = groups
        .iter()
        .flat_map(|g| g["Parameters"].as_sequence().unwrap().iter())
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    grouped.sort();
    let mut params: Vec<String> = template_defaults().into_keys().collect();
    params.sort();
    assert_eq!(grouped, params);
}
