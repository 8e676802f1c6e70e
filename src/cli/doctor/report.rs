//! How `thumbkit doctor` says each check's outcome: one line, `ok`, `WARN` or `FAIL`, with the
//! fix after `->`.

/// One check's outcome.
pub(super) struct Report {
    pub(super) failed: usize,
}

impl Report {
    pub(super) fn ok(&mut self, what: &str, detail: impl AsRef<str>) {
        println!("ok    {what}: {}", detail.as_ref());
    }

    pub(super) fn warn(&mut self, what: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        println!("WARN  {what}: {} -> {}", detail.as_ref(), fix.as_ref());
    }

    pub(super) fn fail(&mut self, what: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failed += 1;
        println!("FAIL  {what}: {} -> {}", detail.as_ref(), fix.as_ref());
    }
}
