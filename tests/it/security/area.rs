//! thumbkit's own folder is nobody's original, and the fs store keeps to its root: staged
//! uploads, records and variants are 404 on every route, anonymous requests cannot make the
//! store grow, and no write or delete follows a link out of the root.

use super::*;
use crate::helpers::fixtures::*;

fn files_under(root: &std::path::Path) -> usize {
    walk(root).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_in_thumbkit_s_folder_is_served_or_grows_the_store() {
    let (app, root) = fs_app("own-area", Settings::default()).await;
    let photo = fixture("DSCN0010.jpg");
    // A browser upload that was never completed (so never validated).
    let t = ticket(&app, "u/p.jpg", "image/jpeg", photo.len()).await;
    let id = t["id"].as_str().unwrap().to_owned();
    let url = t["upload_url"].as_str().unwrap();
    let r = send_with(
        app.addr,
        "PUT",
        url,
        &[("Content-Type", "image/jpeg")],
        &photo,
    )
    .await;
    assert_eq!(r.status, 200);
    // A real original with its records, and one that fails (its failure is recorded).
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/notes.jpg"), b"not an image at all").unwrap();
    std::fs::create_dir_all(root.join("ok")).unwrap();
    std::fs::copy(fixtures().join("Landscape_1.jpg"), root.join("ok/a.jpg")).unwrap();
    assert_eq!(app.get("/t/thumb/ok/a.jpg").await.status, 200);
    assert_eq!(app.get("/t/thumb/docs/notes.jpg").await.status, 422);
    app.service.drain().await;
    let internal: Vec<String> = walk(&root.join("_variants"))
        .iter()
        .filter_map(|p| p.strip_prefix(&root).ok().map(|p| p.display().to_string()))
        .collect();
    assert!(
        internal.iter().any(|k| k.contains("_staging/")),
        "{internal:?}"
    );
    assert!(
        internal.iter().any(|k| k.contains("_records/")),
        "{internal:?}"
    );
    let before = files_under(&root);
    let auth = bearer();
    for key in internal
        .iter()
        .chain([format!("_variants/_staging/{id}.bytes")].iter())
    {
        for preset in ["thumb", "large", "avatar@2x"] {
            let r = app.get(&format!("/t/{preset}/{key}")).await;
            assert_eq!(r.status, 404, "/t/{preset}/{key}");
            assert_eq!(r.header("content-type"), "application/problem+json");
        }
        for method in ["GET", "DELETE", "PUT"] {
            let r = send_with(
                app.addr,
                method,
                &format!("/v1/originals/{key}"),
                &[("Authorization", &auth)],
                &photo,
            )
            .await;
            assert_eq!(r.status, 404, "{method} {key}");
        }
    }
    // Anonymous requests for a broken original, over and over: the store does not grow.
    for _ in 0..50 {
        assert_eq!(app.get("/t/thumb/docs/notes.jpg").await.status, 422);
        assert_eq!(app.get("/t/small/docs/notes.jpg").await.status, 422);
    }
    app.service.drain().await;
    assert_eq!(files_under(&root), before, "no request grew the store");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_folder_named_like_a_temporary_file_is_refused() {
    let (app, root) = fs_app("tmp-folder", Settings::default()).await;
    let auth = bearer();
    let photo = fixture("DSCN0010.jpg");
    let r = send_with(
        app.addr,
        "PUT",
        "/v1/originals/photos/.tmp-hidden/x.jpg",
        &[("Authorization", &auth)],
        &photo,
    )
    .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(!root.join("photos/.tmp-hidden").exists());
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn no_delete_purge_or_write_follows_a_symlink_out_of_the_root() {
    let (app, root) = fs_app("symlink-out", Settings::default()).await;
    let outside = root.with_extension("elsewhere");
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("victim.txt"), b"keep").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linkdir")).unwrap();
    let auth = bearer();
    let r = send_with(
        app.addr,
        "DELETE",
        "/v1/originals/linkdir/victim.txt",
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["original"],
        false
    );
    assert_eq!(std::fs::read(outside.join("victim.txt")).unwrap(), b"keep");
    let photo = fixture("DSCN0010.jpg");
    let r = send_with(
        app.addr,
        "PUT",
        "/v1/originals/linkdir/new/x.jpg",
        &[("Authorization", &auth)],
        &photo,
    )
    .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        !outside.join("new").exists(),
        "no folder made outside the root"
    );
    // The CLI's purge goes through the same store.
    let out = crate::helpers::process::thumbkit()
        .args([
            "purge",
            "--storage",
            &format!("fs:{}", root.display()),
            "linkdir/victim.txt",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        crate::helpers::process::stderr(&out)
    );
    assert_eq!(std::fs::read(outside.join("victim.txt")).unwrap(), b"keep");
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&outside);
}
