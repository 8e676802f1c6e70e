//! Where SNS lives: the host of a topic's partition and region, the only one a message's
//! certificate and subscription URL may come from. A region is checked against AWS's own
//! syntax, so a topic ARN cannot steer thumbkit to another AWS service's host.

/// Whether `region` is written as AWS writes regions: `us-east-1`, `us-gov-west-1`,
/// `cn-north-1`, `ap-southeast-4` (area, optional `gov`, direction, number).
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let (area, middle, number) = match parts.as_slice() {
        [area, direction, number] => (area, vec![*direction], number),
        [area, "gov", direction, number] => (area, vec!["gov", *direction], number),
        _ => return false,
    };
    area.len() == 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// SNS's host for `region` in `partition`: `sns.REGION.amazonaws.com` (`aws`, `aws-us-gov`)
/// or `sns.REGION.amazonaws.com.cn` (`aws-cn`); `None` for a region that is not one of that
/// partition's, or a partition whose SNS thumbkit does not know.
pub fn sns_host(partition: &str, region: &str) -> Option<String> {
    if !is_region(region) {
        return None;
    }
    let china = region.starts_with("cn-");
    let gov = region.starts_with("us-gov-");
    let suffix = match partition {
        "aws" if !china && !gov => ".amazonaws.com",
        "aws-us-gov" if gov => ".amazonaws.com",
        "aws-cn" if china => ".amazonaws.com.cn",
        _ => return None,
    };
    Some(format!("sns.{region}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regions_of_the_arn_s_partition_name_an_sns_host() {
        for (partition, region, host) in [
            ("aws", "us-east-1", "sns.us-east-1.amazonaws.com"),
            ("aws", "ap-southeast-4", "sns.ap-southeast-4.amazonaws.com"),
            ("aws", "il-central-1", "sns.il-central-1.amazonaws.com"),
            ("aws-cn", "cn-north-1", "sns.cn-north-1.amazonaws.com.cn"),
            (
                "aws-us-gov",
                "us-gov-west-1",
                "sns.us-gov-west-1.amazonaws.com",
            ),
        ] {
            assert_eq!(sns_host(partition, region).as_deref(), Some(host));
        }
        for (partition, region) in [
            ("aws", "s3"),
            ("aws", "us-east-1.evil.com"),
            ("aws", "us-east"),
            ("aws", "US-EAST-1"),
            ("aws", ""),
            ("aws", "us-east-1/x"),
            ("aws", "u-east-1"),
            ("aws", "us-east-123"),
            ("aws", "cn-north-1"),
            ("aws-cn", "us-east-1"),
            ("aws-us-gov", "us-east-1"),
            ("aws", "us-gov-west-1"),
            ("aws-iso", "us-iso-east-1"),
            ("evil", "us-east-1"),
        ] {
            assert_eq!(sns_host(partition, region), None, "{partition} {region}");
        }
    }
}
