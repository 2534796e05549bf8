//! The cold-start baseline: a `lambda_http` function that answers "hello" and does nothing else, built with the
//! same release profile as the real functions so `scripts/bench-lambda.sh` can time them against it.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
