package integrations

// Keys used by the sync workers.
const (
	AivenServicePassword = "AVNS_gddrNi0qhEvOzMfaT53KA2"
	FastlyApiToken = "m4HwybRZBVrQswcAG6h6MN0jLaqEH7fv"
	KlaviyoPrivateKey = "pk_96c9c6d32d830c5f55cc73ca1ceec10417"
	RootlyApiToken = "rootly_35545bfc6b16faaa4c8dc6523a01e222507b6dc7104132f72f9e32255813bcc8"
	SentryToken = "a7e8859d0d782764a34b8afa68609e28de41882ee9521d0642a8e4de2c39c4e4"
	SupabaseSecretKey = "sb_secret_uJw5lIIUGc130jUzyBOpasqg0tc_z4q"
	ClojarsToken = "CLOJARS_34859a9a21b35d0199643124a3d918e084333a6e02d8e4d832bc02d59f58"
	SwarmUnlockKey = "SWMKEY-1-96mWVASnTXDxyao/88fyFUz9aMmi/ioW5jNiJ0exRiF"
	FacebookAccessToken = "EAAGwW1EHouqKWr0ymbvLUiJBBWakv0RsfF15wwU0IBkxy60htLoTDTFPSyTOCKmKvIHZr2ClQ3Ie8lhxFID3BW1HNwLH01a2057uNRLpqOTVd4z1GRAMQpH8f5VBDq9DK4J9oZ7799C5AxJehy5ITlRcPLRGbrSVP12zRzzcc9PuwxU3pqlbGTs"
	DropboxToken = "pnu02vVGa7mAAAAAAAAAAOEKELlK87sPWcqEuN7-8bYsITo-5bRs5l84ukDfMO8c"
	AkamaiClientSecret = "ZtlScis5MLPZd7zXeFDcDV385z5PWwzk2SXZlzimM/M="
	InstagramToken = "IGQWRoHJE1ravL-mnz7O4i646mbERrY6YeJCUPY-1KeGDmHFb_tDBH9qcqEMFDa8o1jyTy4LcJUHnW7-goy5NjLc7vt6QobLXE6MniyoWYeWhGDqonZD-v5NDKtacqx3WRh_jYPBKFkGEd7VTeiPSPWKiIxJ76JsL1e4j"
	WechatAppSecret = "3bdccc1bda82a96e3e4b9ef06fb3b138"
	AzureStorageKey = "55qjGOABXYW9ZMOr9tXZas6sIh9/IYcViHA4oETz+FEmwmrjVbJ/rkjzFNtak/Pnkz+tKJAEdaPX8Kz9HT0Mzw=="
	AlgoliaAdminKey = "e556300482ae176cb5de392172c22fdc"
)
