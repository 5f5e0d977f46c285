//! The field rules: instance families, names, paths, buckets.
use super::*;

#[test]
fn graviton_families() {
    for t in [
        "t4g.large",
        "m7g.xlarge",
        "c7gn.large",
        "r8g.medium",
        "m7gd.large",
        "im4gn.large",
        "is4gen.large",
        "a1.large",
        "x2gd.large",
        "g5g.xlarge",
    ] {
        assert!(is_graviton(t), "{t}");
    }
    for t in [
        "t3.large",
        "m5.large",
        "c7i.large",
        "g4dn.xlarge",
        "m7a.large",
        "inf2.xlarge",
        "r6id.large",
    ] {
        assert!(!is_graviton(t), "{t}");
    }
}

#[test]
fn ids() {
    assert!(ami_id("ami-0123456789abcdef0").is_ok());
    assert!(ami_id("ami-12345678").is_ok());
    assert!(ami_id("ami-XYZ").is_err());
    assert!(ami_id("ami-0123456789ABCDEF0").is_err());
    let groups = sg("sg-12345678,sg-0123456789abcdef0").unwrap();
    assert_eq!(groups.ids().len(), 2);
    assert_eq!(groups.to_string(), "sg-12345678,sg-0123456789abcdef0");
    assert_eq!(ip("private").unwrap(), IpMode::Private);
    assert_eq!(Arch::parse("arm64"), Some(Arch::Arm64));
    assert_eq!(Arch::parse("aarch64"), None);
    assert!(sg("sg-12345678, sg-87654321").is_err());
    assert!(sg("").is_err());
    assert!(subnet("subnet-f6b6d681").is_ok());
    assert!(subnet("subnet-f6b6").is_err());
    assert!(kms_key_id("1234abcd-12ab-34cd-56ef-1234567890ab").is_ok());
    assert!(kms_key_id("alias/lava-ami").is_ok());
    assert!(
        kms_key_id("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            .is_ok()
    );
    assert!(kms_key_id("lava-ami").is_err());
    assert!(kms_key_id("arn:aws:s3:::bucket").is_err());
    assert!(instance_profile("lava-ami-build").is_ok());
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert!(kms_key_arn("s3_kms_key", key).is_ok());
    for bad in [
        "arn:aws:kms:us-east-1:123456789012:alias/lava",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:12345:key/x",
        "arn:aws:s3:us-east-1:123456789012:key/x",
    ] {
        let e = kms_key_arn("s3_kms_key", bad).unwrap_err().to_string();
        assert!(e.starts_with("s3_kms_key: invalid value"), "{e}");
    }
    assert!(instance_profile("arn:aws:iam::1:instance-profile/x").is_err());
    assert_eq!(
        ssh_interface("session_manager", IpMode::Private).unwrap(),
        SshInterface::SessionManager
    );
    let e = ssh_interface("public_ip", IpMode::Private).unwrap_err();
    assert!(e.to_string().contains("ssh_interface"), "{e}");
    assert!(ssh_interface("ssm", IpMode::Public).is_err());
}

#[test]
fn versions() {
    assert_eq!(python_version("3.11.12").unwrap(), "3.11");
    assert!(python_version("3.11").is_err());
    assert!(python_version("2.7.18").is_err());
    assert!(python_version("3.11.x").is_err());
    assert!(lava_version("8.3.0").is_ok());
    assert!(lava_version("8.3.0rc1").is_ok());
    assert!(lava_version("8.3").is_err());
}

#[test]
#[cfg(feature = "build")]
fn time_zones() {
    assert!(tz("Australia/Sydney").is_ok());
    assert!(tz("UTC").is_ok());
    assert!(tz("Mars/Olympus").is_err());
}

#[test]
fn places() {
    assert!(region("ap-southeast-2").is_ok());
    assert!(region("us-gov-west-1").is_ok());
    assert!(region("sydney").is_err());
    assert!(region("eu-west").is_err());
    assert!(region("europe-west-1").is_err());
    assert!(s3prefix("lava/ami/").is_ok());
    assert!(s3prefix("").is_ok());
    assert!(s3prefix("lava/ami").is_err());
    assert!(s3prefix("/lava/").is_err());
    assert!(s3bucket("my-bucket").is_ok());
    assert!(s3bucket("My_Bucket").is_err());
}
