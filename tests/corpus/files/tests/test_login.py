"""Login tests run against the in-memory user store."""

TEST_PASSWORD = "test"
FAKE_PASSWORD = "fake-password-for-tests"
def test_rejects_wrong_password(client):
    assert client.login("alice", "wrong") is False
mock_secret = "not-a-real-secret"
api_key = "test-api-key"
token = "dummy-token"
password = "password"
password = "********"
password = "<PASSWORD>"
