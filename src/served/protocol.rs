//! The served mode's wire protocol.
//!
//! Every message is one frame:
//!
//! ```text
//! u32 LE length || u8 version || u64 LE request id || payload
//! ```
//!
//! `length` counts the bytes after itself (version, id and payload) and may not exceed
//! [`MAX_FRAME_LEN`]; it is checked before anything is allocated. The payload is a [`Request`]
//! (client to server) or a [`Response`] (server to client) in postcard's compact binary serde
//! format; a response carries the id of the request it answers. Decoding never panics: a short,
//! oversized, wrong-version or undecodable frame is a [`FrameError`], and the server closes that
//! connection and no other.
//!
//! The engine calls that cross the wire are listed once, in the `engine_calls!` invocation
//! below. From that list the macro generates the [`Call`] request variants, the [`Reply`]
//! variants, the server-side [`Call::dispatch`] to an [`Engine`], and the methods of the client
//! stub [`RemoteEngine`], which carry the engine methods' names and argument types.

use std::fmt;
use std::io::{self, Read, Write};

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_FLAGS, CK_MECHANISM_TYPE, CK_USER_TYPE};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::client::RemoteEngine;
use crate::engine::{
    AttrRead, Engine, Error, ObjectHandle, Out, Produced, Result, SessionHandle, SessionInfo,
    SlotId, SlotInfo, TokenInfo,
};
use crate::mechanism::{MechInfo, Mechanism};
use crate::object::Attr;

/// The protocol version every frame carries; a frame of another version is refused.
pub const PROTOCOL_VERSION: u8 = 1;
/// The most bytes a frame's length field may announce (16 MiB).
pub const MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;
/// Bytes of the length field.
pub const LENGTH_FIELD_LEN: usize = 4;
/// Bytes of the version and request id that follow the length field.
pub const FRAME_HEADER_LEN: usize = 1 + 8;
/// The most bytes one `generate_random` call may ask the server for, so that its reply fits a
/// frame.
pub const MAX_RANDOM_LEN: usize = 1024 * 1024;

/// Why a frame could not be read or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes end inside a frame: `have` of the `need` bytes arrived.
    Truncated {
        /// Bytes present.
        have: usize,
        /// Bytes the frame needs.
        need: usize,
    },
    /// The length field is below the version and request id's size.
    TooShort(u32),
    /// The length field exceeds [`MAX_FRAME_LEN`].
    TooLarge(u32),
    /// The frame is of another protocol version.
    BadVersion(u8),
    /// The payload is not a valid message (the string says why).
    Undecodable(String),
    /// Bytes follow the frame in a buffer that should hold exactly one.
    TrailingBytes(usize),
    /// The connection failed (the string says how).
    Io(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { have, need } => {
                write!(f, "truncated frame: {have} of {need} bytes")
            }
            FrameError::TooShort(n) => write!(
                f,
                "frame length {n} is shorter than its {FRAME_HEADER_LEN}-byte header"
            ),
            FrameError::TooLarge(n) => {
                write!(f, "frame length {n} exceeds the maximum of {MAX_FRAME_LEN}")
            }
            FrameError::BadVersion(v) => write!(
                f,
                "protocol version {v} is not supported (this side speaks {PROTOCOL_VERSION})"
            ),
            FrameError::Undecodable(why) => write!(f, "undecodable payload: {why}"),
            FrameError::TrailingBytes(n) => write!(f, "{n} bytes after the frame"),
            FrameError::Io(why) => write!(f, "connection error: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Checks a frame's length field and returns the number of bytes that follow it.
pub fn check_length(field: [u8; LENGTH_FIELD_LEN]) -> std::result::Result<usize, FrameError> {
    let n = u32::from_le_bytes(field);
    if n > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(n));
    }
    if (n as usize) < FRAME_HEADER_LEN {
        return Err(FrameError::TooShort(n));
    }
    Ok(n as usize)
}

/// Encodes one frame: length, version, `id` and the serialized `msg`.
pub fn encode_frame<T: Serialize>(id: u64, msg: &T) -> std::result::Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; LENGTH_FIELD_LEN];
    out.push(PROTOCOL_VERSION);
    out.extend_from_slice(&id.to_le_bytes());
    let mut out = postcard::to_extend(msg, out)
        .map_err(|e| FrameError::Undecodable(format!("cannot encode: {e}")))?;
    let body = out.len() - LENGTH_FIELD_LEN;
    let len = u32::try_from(body)
        .ok()
        .filter(|n| *n <= MAX_FRAME_LEN)
        .ok_or(FrameError::TooLarge(
            u32::try_from(body).unwrap_or(u32::MAX),
        ))?;
    out[..LENGTH_FIELD_LEN].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// Decodes the bytes after a frame's length field: version, request id and payload. The payload
/// must be exactly one message.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<(u64, T), FrameError> {
    let Some((&version, rest)) = body.split_first() else {
        return Err(FrameError::Truncated {
            have: 0,
            need: FRAME_HEADER_LEN,
        });
    };
    if version != PROTOCOL_VERSION {
        return Err(FrameError::BadVersion(version));
    }
    let Some((id, payload)) = rest.split_first_chunk::<8>() else {
        return Err(FrameError::Truncated {
            have: body.len(),
            need: FRAME_HEADER_LEN,
        });
    };
    let (msg, left) = postcard::take_from_bytes::<T>(payload)
        .map_err(|e| FrameError::Undecodable(e.to_string()))?;
    if !left.is_empty() {
        return Err(FrameError::Undecodable(format!(
            "{} bytes after the message",
            left.len()
        )));
    }
    Ok((u64::from_le_bytes(*id), msg))
}

/// Decodes a buffer that holds exactly one frame.
pub fn decode_frame<T: DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<(u64, T), FrameError> {
    let Some((field, rest)) = bytes.split_first_chunk::<LENGTH_FIELD_LEN>() else {
        return Err(FrameError::Truncated {
            have: bytes.len(),
            need: LENGTH_FIELD_LEN,
        });
    };
    let len = check_length(*field)?;
    if rest.len() < len {
        return Err(FrameError::Truncated {
            have: bytes.len(),
            need: LENGTH_FIELD_LEN + len,
        });
    }
    if rest.len() > len {
        return Err(FrameError::TrailingBytes(rest.len() - len));
    }
    decode_body(rest)
}

/// Reads one frame from a stream. `Ok(None)` is a clean end of stream before a frame began.
/// The length is checked before the body is allocated.
pub fn read_frame<R: Read, T: DeserializeOwned>(
    r: &mut R,
) -> std::result::Result<Option<(u64, T)>, FrameError> {
    let mut field = [0u8; LENGTH_FIELD_LEN];
    let mut got = 0;
    while got < field.len() {
        match r.read(&mut field[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(FrameError::Truncated {
                    have: got,
                    need: LENGTH_FIELD_LEN,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e.to_string())),
        }
    }
    let len = check_length(field)?;
    // The buffer grows with the bytes that actually arrive, so a length announced but not sent
    // costs nothing. A small frame (the kind that carries a PIN or a share) is read into its
    // first allocation, wiped when dropped.
    let mut body = zeroize::Zeroizing::new(Vec::with_capacity(len.min(64 * 1024)));
    r.take(len as u64)
        .read_to_end(&mut body)
        .map_err(|e| FrameError::Io(e.to_string()))?;
    if body.len() < len {
        return Err(FrameError::Truncated {
            have: LENGTH_FIELD_LEN + body.len(),
            need: LENGTH_FIELD_LEN + len,
        });
    }
    decode_body(&body).map(Some)
}

/// Writes one frame to a stream.
pub fn write_frame<W: Write, T: Serialize>(
    w: &mut W,
    id: u64,
    msg: &T,
) -> std::result::Result<(), FrameError> {
    let frame = zeroize::Zeroizing::new(encode_frame(id, msg)?);
    w.write_all(&frame)
        .and_then(|()| w.flush())
        .map_err(|e| FrameError::Io(e.to_string()))
}

/// A message from a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// A call to the connection's engine.
    Call(Call),
    /// A request to the server itself.
    Control(Control),
}

/// A request to the server itself rather than to the connection's engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// Report the server's state.
    Status,
    /// Offer one share (its text form) to the unseal ceremony.
    Unseal {
        /// The share, as written in a share file.
        share: String,
    },
    /// Seal the server: wipe the master key from its memory. The request must prove custody
    /// with a genuine share of the store.
    Seal {
        /// A share of the store, as written in a share file.
        share: String,
    },
}

/// The server's state, as [`Control::Status`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Whether the master key is in memory and connections' tokens are present.
    pub unsealed: bool,
    /// Shares accepted so far by the ceremony in progress (0 when unsealed).
    pub shares_have: u8,
    /// Shares needed (the threshold M).
    pub shares_need: u8,
    /// The store's number of shares (N).
    pub shares_total: u8,
    /// Connections open now, this one included.
    pub clients: u64,
    /// Seconds since the server started.
    pub uptime_secs: u64,
}

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unsealed {
            write!(f, "unsealed")?;
        } else {
            write!(
                f,
                "sealed ({} of {} shares)",
                self.shares_have, self.shares_need
            )?;
        }
        write!(
            f,
            ", quorum {} of {}, {} client(s), up {} s",
            self.shares_need, self.shares_total, self.clients, self.uptime_secs
        )
    }
}

/// Where the unseal ceremony stands after a share was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsealProgress {
    /// Shares accepted so far.
    pub have: u8,
    /// Shares needed.
    pub need: u8,
    /// Whether the server is now unsealed.
    pub unsealed: bool,
}

/// The answer to a [`Control`] request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlReply {
    /// The server's state.
    Status(ServerStatus),
    /// The share was accepted.
    Unseal(UnsealProgress),
    /// The server is sealed now.
    Sealed,
    /// The request was refused; the string says why (for a share: the ceremony's reason).
    Refused(String),
}

/// A message from the server, answering the request with the same id.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    /// The result of an engine call.
    Call(Reply),
    /// The answer to a control request.
    Control(ControlReply),
}

/// Turns what an engine method returns into the [`Result`] its reply carries (most methods
/// already return one; a few cannot fail).
pub trait IntoCallResult<T> {
    /// The result.
    fn into_call_result(self) -> Result<T>;
}

impl<T> IntoCallResult<T> for Result<T> {
    fn into_call_result(self) -> Result<T> {
        self
    }
}

impl IntoCallResult<Vec<SlotId>> for Vec<SlotId> {
    fn into_call_result(self) -> Result<Vec<SlotId>> {
        Ok(self)
    }
}

impl IntoCallResult<()> for () {
    fn into_call_result(self) -> Result<()> {
        Ok(())
    }
}

/// The owned type a request carries for an argument: `val T` is carried as `T`, `by_ref T`
/// (a `&T` argument) as `T`'s owned form.
macro_rules! wire_arg {
    (val $t:ty) => {
        $t
    };
    (by_ref $t:ty) => {
        <$t as ToOwned>::Owned
    };
}

/// The type of an argument in an engine method's signature.
macro_rules! param_ty {
    (val $t:ty) => {
        $t
    };
    (by_ref $t:ty) => {
        &$t
    };
}

/// Passes a request's owned argument to the engine method.
macro_rules! pass_arg {
    (val $a:ident) => {
        $a
    };
    (by_ref $a:ident) => {
        &$a
    };
}

/// Turns a method argument into the owned value the request carries.
macro_rules! to_wire {
    (val $a:ident) => {
        $a
    };
    (by_ref $a:ident) => {
        $a.to_owned()
    };
}

/// Generates, from one list of engine methods, the request and reply variants, the server's
/// dispatch and the client stub's methods.
macro_rules! engine_calls {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident => fn $method:ident($($mode:ident $arg:ident: $ty:ty),* $(,)?) -> $ret:ty;
    )*) => {
        /// One engine call, with its arguments.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Call {
            $(
                $(#[doc = $doc])*
                $variant {
                    $(
                        #[allow(missing_docs)]
                        $arg: wire_arg!($mode $ty),
                    )*
                },
            )*
        }

        /// The result of one engine call, tagged with the call it answers.
        #[derive(Debug, Serialize, Deserialize)]
        pub enum Reply {
            $(
                $(#[doc = $doc])*
                $variant(Result<$ret>),
            )*
        }

        impl Call {
            /// Every engine method the protocol carries, in the list's order.
            pub const METHODS: &'static [&'static str] = &[$(stringify!($method)),*];

            /// The engine method this call runs.
            pub fn method(&self) -> &'static str {
                match self {
                    $( Call::$variant { .. } => stringify!($method), )*
                }
            }

            /// Runs the call on `engine` and returns its reply.
            pub fn dispatch(self, engine: &Engine) -> Reply {
                match self {
                    $(
                        Call::$variant { $($arg),* } => Reply::$variant(
                            IntoCallResult::into_call_result(
                                engine.$method($(pass_arg!($mode $arg)),*),
                            ),
                        ),
                    )*
                }
            }
        }

        impl Reply {
            /// The engine method this reply answers.
            pub fn method(&self) -> &'static str {
                match self {
                    $( Reply::$variant(_) => stringify!($method), )*
                }
            }

            /// A reply of the same call as this one that carries `error` instead.
            pub fn with_error(&self, error: Error) -> Reply {
                match self {
                    $( Reply::$variant(_) => Reply::$variant(Err(error)), )*
                }
            }

            /// A reply to `call` that carries `error`.
            pub fn error_for(call: &Call, error: Error) -> Reply {
                match call {
                    $( Call::$variant { .. } => Reply::$variant(Err(error)), )*
                }
            }
        }

        impl crate::served::Backend {
            $(
                $(#[doc = $doc])*
                ///
                /// Run by the engine in this process, or sent to the server.
                pub fn $method(&self, $($arg: param_ty!($mode $ty)),*) -> Result<$ret> {
                    match self {
                        crate::served::Backend::Local(engine) => {
                            IntoCallResult::into_call_result(engine.$method($($arg),*))
                        }
                        crate::served::Backend::Remote(remote) => remote.$method($($arg),*),
                    }
                }
            )*
        }

        impl RemoteEngine {
            $(
                $(#[doc = $doc])*
                ///
                /// Sent to the server; a failed connection is `Error::DeviceError`.
                pub fn $method(&self, $($arg: param_ty!($mode $ty)),*) -> Result<$ret> {
                    let call = Call::$variant { $($arg: to_wire!($mode $arg)),* };
                    match self.call(call)? {
                        Reply::$variant(r) => r,
                        other => Err(RemoteEngine::mismatch(stringify!($method), other.method())),
                    }
                }
            )*
        }
    };
}

engine_calls! {
    /// `C_GetSlotList`.
    SlotList => fn slot_list(val token_present: bool) -> Vec<SlotId>;
    /// `C_GetSlotInfo`.
    SlotInfo => fn slot_info(val slot: SlotId) -> SlotInfo;
    /// `C_GetTokenInfo`.
    TokenInfo => fn token_info(val slot: SlotId) -> TokenInfo;
    /// `C_GetMechanismList`.
    MechanismList => fn mechanism_list(val slot: SlotId) -> Vec<CK_MECHANISM_TYPE>;
    /// `C_GetMechanismInfo`.
    MechanismInfo => fn mechanism_info(val slot: SlotId, val ty: CK_MECHANISM_TYPE) -> MechInfo;
    /// `C_InitToken`.
    InitToken => fn init_token(val slot: SlotId, by_ref so_pin: [u8], val label: [u8; 32]) -> ();
    /// `C_OpenSession`.
    OpenSession => fn open_session(val slot: SlotId, val flags: CK_FLAGS) -> SessionHandle;
    /// `C_CloseSession`.
    CloseSession => fn close_session(val h: SessionHandle) -> ();
    /// `C_CloseAllSessions`.
    CloseAllSessions => fn close_all_sessions(val slot: SlotId) -> ();
    /// `C_Finalize`: closes every session of the connection.
    CloseEverything => fn close_everything() -> ();
    /// `C_GetSessionInfo`.
    SessionInfo => fn session_info(val h: SessionHandle) -> SessionInfo;
    /// `C_Login`.
    Login => fn login(val h: SessionHandle, val user_type: CK_USER_TYPE, by_ref pin: [u8]) -> ();
    /// `C_Logout`.
    Logout => fn logout(val h: SessionHandle) -> ();
    /// `C_InitPIN`.
    InitPin => fn init_pin(val h: SessionHandle, by_ref pin: [u8]) -> ();
    /// `C_SetPIN`.
    SetPin => fn set_pin(val h: SessionHandle, by_ref old: [u8], by_ref new: [u8]) -> ();
    /// `C_CreateObject`.
    CreateObject => fn create_object(val h: SessionHandle, by_ref template: [Attr]) -> ObjectHandle;
    /// `C_CopyObject`.
    CopyObject => fn copy_object(
        val h: SessionHandle,
        val obj: ObjectHandle,
        by_ref template: [Attr],
    ) -> ObjectHandle;
    /// `C_DestroyObject`.
    DestroyObject => fn destroy_object(val h: SessionHandle, val obj: ObjectHandle) -> ();
    /// `C_GetObjectSize`.
    ObjectSize => fn object_size(val h: SessionHandle, val obj: ObjectHandle) -> u64;
    /// `C_GetAttributeValue`.
    GetAttributes => fn get_attributes(
        val h: SessionHandle,
        val obj: ObjectHandle,
        by_ref types: [CK_ATTRIBUTE_TYPE],
    ) -> Vec<AttrRead>;
    /// `C_SetAttributeValue`.
    SetAttributes => fn set_attributes(
        val h: SessionHandle,
        val obj: ObjectHandle,
        by_ref template: [Attr],
    ) -> ();
    /// `C_FindObjectsInit`.
    FindInit => fn find_init(val h: SessionHandle, by_ref template: [Attr]) -> ();
    /// `C_FindObjects`.
    Find => fn find(val h: SessionHandle, val max: usize) -> Vec<ObjectHandle>;
    /// `C_FindObjectsFinal`.
    FindFinal => fn find_final(val h: SessionHandle) -> ();
    /// `C_GenerateRandom` (at most [`MAX_RANDOM_LEN`] bytes per call).
    GenerateRandom => fn generate_random(val h: SessionHandle, val len: usize) -> Vec<u8>;
    /// `C_DigestInit`.
    DigestInit => fn digest_init(val h: SessionHandle, by_ref mech: Mechanism) -> ();
    /// `C_Digest`.
    Digest => fn digest(val h: SessionHandle, by_ref data: [u8], val out: Out) -> Produced;
    /// `C_DigestUpdate`.
    DigestUpdate => fn digest_update(val h: SessionHandle, by_ref data: [u8]) -> ();
    /// `C_DigestKey`.
    DigestKey => fn digest_key(val h: SessionHandle, val key: ObjectHandle) -> ();
    /// `C_DigestFinal`.
    DigestFinal => fn digest_final(val h: SessionHandle, val out: Out) -> Produced;
    /// `C_EncryptInit`.
    EncryptInit => fn encrypt_init(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        val key: ObjectHandle,
    ) -> ();
    /// `C_Encrypt`.
    Encrypt => fn encrypt(val h: SessionHandle, by_ref data: [u8], val out: Out) -> Produced;
    /// `C_EncryptUpdate`.
    EncryptUpdate => fn encrypt_update(
        val h: SessionHandle,
        by_ref data: [u8],
        val out: Out,
    ) -> Produced;
    /// `C_EncryptFinal`.
    EncryptFinal => fn encrypt_final(val h: SessionHandle, val out: Out) -> Produced;
    /// `C_DecryptInit`.
    DecryptInit => fn decrypt_init(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        val key: ObjectHandle,
    ) -> ();
    /// `C_Decrypt`.
    Decrypt => fn decrypt(val h: SessionHandle, by_ref data: [u8], val out: Out) -> Produced;
    /// `C_DecryptUpdate`.
    DecryptUpdate => fn decrypt_update(
        val h: SessionHandle,
        by_ref data: [u8],
        val out: Out,
    ) -> Produced;
    /// `C_DecryptFinal`.
    DecryptFinal => fn decrypt_final(val h: SessionHandle, val out: Out) -> Produced;
    /// `C_SignInit`.
    SignInit => fn sign_init(val h: SessionHandle, by_ref mech: Mechanism, val key: ObjectHandle) -> ();
    /// `C_Sign`.
    Sign => fn sign(val h: SessionHandle, by_ref data: [u8], val out: Out) -> Produced;
    /// `C_SignUpdate`.
    SignUpdate => fn sign_update(val h: SessionHandle, by_ref data: [u8]) -> ();
    /// `C_SignFinal`.
    SignFinal => fn sign_final(val h: SessionHandle, val out: Out) -> Produced;
    /// `C_VerifyInit`.
    VerifyInit => fn verify_init(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        val key: ObjectHandle,
    ) -> ();
    /// `C_Verify`.
    Verify => fn verify(val h: SessionHandle, by_ref data: [u8], by_ref sig: [u8]) -> ();
    /// `C_VerifyUpdate`.
    VerifyUpdate => fn verify_update(val h: SessionHandle, by_ref data: [u8]) -> ();
    /// `C_VerifyFinal`.
    VerifyFinal => fn verify_final(val h: SessionHandle, by_ref sig: [u8]) -> ();
    /// `C_SessionCancel` (and the ending of an operation after an argument error).
    Cancel => fn cancel(val h: SessionHandle, val flags: CK_FLAGS) -> ();
    /// `C_GenerateKey`.
    GenerateKey => fn generate_key(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        by_ref template: [Attr],
    ) -> ObjectHandle;
    /// `C_GenerateKeyPair`: the public and private key handles.
    GenerateKeyPair => fn generate_key_pair(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        by_ref public: [Attr],
        by_ref private: [Attr],
    ) -> (ObjectHandle, ObjectHandle);
    /// `C_DeriveKey`.
    DeriveKey => fn derive_key(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        val base: ObjectHandle,
        by_ref template: [Attr],
    ) -> ObjectHandle;
    /// `C_WrapKey`.
    WrapKey => fn wrap_key(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        val wrapping: ObjectHandle,
        val key: ObjectHandle,
        val out: Out,
    ) -> Produced;
    /// `C_UnwrapKey`.
    UnwrapKey => fn unwrap_key(
        val h: SessionHandle,
        by_ref mech: Mechanism,
        val unwrapping: ObjectHandle,
        by_ref wrapped: [u8],
        by_ref template: [Attr],
    ) -> ObjectHandle;
}

impl Call {
    /// Refuses, before it reaches the engine, a call whose answer could not fit a frame.
    pub fn admissible(&self) -> Result<()> {
        match self {
            Call::GenerateRandom { len, .. } if *len > MAX_RANDOM_LEN => Err(Error::ArgumentsBad),
            _ => Ok(()),
        }
    }
}

/// The fuzz target's entry point: decodes arbitrary bytes as one request frame and as one
/// response frame. Returns whether either decoded; an accepted request must re-encode to a frame
/// that decodes to the same request.
pub fn fuzz_frame(data: &[u8]) -> bool {
    let request = decode_frame::<Request>(data);
    let response = decode_frame::<Response>(data);
    if let Ok((id, req)) = &request {
        let again = encode_frame(*id, req).expect("a decoded request must encode");
        let (id2, req2) =
            decode_frame::<Request>(&again).expect("a re-encoded request must decode");
        assert_eq!((id2, &req2), (*id, req), "decode(encode(x)) != x");
    }
    if let Ok((id, resp)) = &response {
        let again = encode_frame(*id, resp).expect("a decoded response must encode");
        assert!(
            decode_frame::<Response>(&again).is_ok(),
            "a re-encoded response must decode"
        );
    }
    request.is_ok() || response.is_ok()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use cryptoki_sys::*;

    use super::*;
    use crate::crypto::HashAlg;
    use crate::mechanism::{GcmParams, Kind, PssParams};
    use crate::object::Value;

    fn ecdsa() -> Mechanism {
        Mechanism {
            ty: CKM_ECDSA_SHA256,
            kind: Kind::EcdsaWith(HashAlg::Sha256),
        }
    }

    fn template() -> Vec<Attr> {
        vec![
            Attr::bool(CKA_TOKEN, true),
            Attr::ulong(CKA_CLASS, CKO_SECRET_KEY),
            Attr::bytes(CKA_LABEL, b"label".to_vec()),
            Attr {
                ty: CKA_ALLOWED_MECHANISMS,
                value: Value::Mechanisms(vec![CKM_AES_GCM, CKM_SHA256_HMAC]),
            },
            Attr {
                ty: CKA_WRAP_TEMPLATE,
                value: Value::Template(vec![Attr::bool(CKA_EXTRACTABLE, false)]),
            },
        ]
    }

    /// One call of every kind the protocol carries.
    fn every_call() -> Vec<Call> {
        let gcm = Mechanism {
            ty: CKM_AES_GCM,
            kind: Kind::AesGcm(GcmParams {
                iv: vec![7; 12],
                aad: b"aad".to_vec(),
                tag_bits: 128,
            }),
        };
        let pss = Mechanism {
            ty: CKM_SHA256_RSA_PKCS_PSS,
            kind: Kind::RsaPssWith(PssParams {
                hash: HashAlg::Sha256,
                mgf1: HashAlg::Sha3_512,
                salt_len: 32,
            }),
        };
        let h = 3;
        let data = b"some data".to_vec();
        vec![
            Call::SlotList {
                token_present: true,
            },
            Call::SlotInfo { slot: 1 },
            Call::TokenInfo { slot: 2 },
            Call::MechanismList { slot: 0 },
            Call::MechanismInfo {
                slot: 0,
                ty: CKM_AES_CBC,
            },
            Call::InitToken {
                slot: 0,
                so_pin: b"so-pin".to_vec(),
                label: [b' '; 32],
            },
            Call::OpenSession {
                slot: 0,
                flags: CKF_SERIAL_SESSION | CKF_RW_SESSION,
            },
            Call::CloseSession { h },
            Call::CloseAllSessions { slot: 0 },
            Call::CloseEverything {},
            Call::SessionInfo { h },
            Call::Login {
                h,
                user_type: CKU_USER,
                pin: b"1234".to_vec(),
            },
            Call::Logout { h },
            Call::InitPin {
                h,
                pin: b"5678".to_vec(),
            },
            Call::SetPin {
                h,
                old: b"1234".to_vec(),
                new: b"abcd".to_vec(),
            },
            Call::CreateObject {
                h,
                template: template(),
            },
            Call::CopyObject {
                h,
                obj: 9,
                template: template(),
            },
            Call::DestroyObject { h, obj: 9 },
            Call::ObjectSize { h, obj: 9 },
            Call::GetAttributes {
                h,
                obj: 9,
                types: vec![CKA_VALUE, CKA_LABEL],
            },
            Call::SetAttributes {
                h,
                obj: 9,
                template: template(),
            },
            Call::FindInit {
                h,
                template: template(),
            },
            Call::Find { h, max: 100 },
            Call::FindFinal { h },
            Call::GenerateRandom { h, len: 32 },
            Call::DigestInit {
                h,
                mech: Mechanism {
                    ty: CKM_SHA3_384,
                    kind: Kind::Digest(HashAlg::Sha3_384),
                },
            },
            Call::Digest {
                h,
                data: data.clone(),
                out: Out::Query,
            },
            Call::DigestUpdate {
                h,
                data: data.clone(),
            },
            Call::DigestKey { h, key: 4 },
            Call::DigestFinal {
                h,
                out: Out::Capacity(64),
            },
            Call::EncryptInit {
                h,
                mech: gcm.clone(),
                key: 4,
            },
            Call::Encrypt {
                h,
                data: data.clone(),
                out: Out::Capacity(100),
            },
            Call::EncryptUpdate {
                h,
                data: data.clone(),
                out: Out::Query,
            },
            Call::EncryptFinal { h, out: Out::Query },
            Call::DecryptInit {
                h,
                mech: gcm.clone(),
                key: 4,
            },
            Call::Decrypt {
                h,
                data: data.clone(),
                out: Out::Capacity(0),
            },
            Call::DecryptUpdate {
                h,
                data: data.clone(),
                out: Out::Query,
            },
            Call::DecryptFinal { h, out: Out::Query },
            Call::SignInit {
                h,
                mech: pss.clone(),
                key: 5,
            },
            Call::Sign {
                h,
                data: data.clone(),
                out: Out::Query,
            },
            Call::SignUpdate {
                h,
                data: data.clone(),
            },
            Call::SignFinal { h, out: Out::Query },
            Call::VerifyInit {
                h,
                mech: ecdsa(),
                key: 6,
            },
            Call::Verify {
                h,
                data: data.clone(),
                sig: vec![1; 64],
            },
            Call::VerifyUpdate {
                h,
                data: data.clone(),
            },
            Call::VerifyFinal {
                h,
                sig: vec![2; 64],
            },
            Call::Cancel { h, flags: CKF_SIGN },
            Call::GenerateKey {
                h,
                mech: Mechanism {
                    ty: CKM_AES_KEY_GEN,
                    kind: Kind::AesKeyGen,
                },
                template: template(),
            },
            Call::GenerateKeyPair {
                h,
                mech: Mechanism {
                    ty: CKM_EC_KEY_PAIR_GEN,
                    kind: Kind::EcKeyPairGen,
                },
                public: template(),
                private: vec![Attr::bool(CKA_SENSITIVE, true)],
            },
            Call::DeriveKey {
                h,
                mech: Mechanism {
                    ty: CKM_CONCATENATE_BASE_AND_DATA,
                    kind: Kind::ConcatBaseAndData(vec![1, 2, 3]),
                },
                base: 4,
                template: template(),
            },
            Call::WrapKey {
                h,
                mech: Mechanism {
                    ty: CKM_AES_KEY_WRAP_KWP,
                    kind: Kind::AesKeyWrapPad,
                },
                wrapping: 4,
                key: 7,
                out: Out::Query,
            },
            Call::UnwrapKey {
                h,
                mech: Mechanism {
                    ty: CKM_AES_KEY_WRAP,
                    kind: Kind::AesKeyWrap,
                },
                unwrapping: 4,
                wrapped: vec![9; 40],
                template: template(),
            },
        ]
    }

    fn every_request() -> Vec<Request> {
        let mut v: Vec<Request> = every_call().into_iter().map(Request::Call).collect();
        v.push(Request::Control(Control::Status));
        v.push(Request::Control(Control::Unseal {
            share: "share text".into(),
        }));
        v.push(Request::Control(Control::Seal {
            share: "another share".into(),
        }));
        v
    }

    /// Replies of several shapes: values of every engine result type, and errors.
    fn some_responses() -> Vec<Response> {
        let info = crate::mechanism::info(CKM_ECDSA).copied().unwrap();
        vec![
            Response::Call(Reply::SlotList(Ok(vec![0, 1, 2]))),
            Response::Call(Reply::SlotInfo(Ok(SlotInfo {
                description: "Custos slot 0".into(),
                token_present: false,
            }))),
            Response::Call(Reply::TokenInfo(Ok(TokenInfo {
                label: [b'x'; 32],
                serial: "0123456789abcdef".into(),
                flags: CKF_TOKEN_INITIALIZED,
                session_count: 2,
                rw_session_count: 1,
                object_count: 5,
            }))),
            Response::Call(Reply::MechanismInfo(Ok(info))),
            Response::Call(Reply::SessionInfo(Ok(SessionInfo {
                slot: 0,
                state: CKS_RW_USER_FUNCTIONS,
                flags: CKF_SERIAL_SESSION,
            }))),
            Response::Call(Reply::GetAttributes(Ok(vec![
                AttrRead::Value(Value::Bytes(b"v".to_vec())),
                AttrRead::Sensitive,
                AttrRead::Invalid,
            ]))),
            Response::Call(Reply::Sign(Ok(Produced::Needed(64)))),
            Response::Call(Reply::Sign(Ok(Produced::Data(vec![5; 64])))),
            Response::Call(Reply::GenerateKeyPair(Ok((10, 11)))),
            Response::Call(Reply::Login(Err(Error::PinIncorrect))),
            Response::Call(Reply::OpenSession(Err(Error::TokenNotPresent))),
            Response::Call(Reply::CreateObject(Err(Error::DeviceError(
                "disk full".into(),
            )))),
            Response::Control(ControlReply::Status(ServerStatus {
                unsealed: false,
                shares_have: 1,
                shares_need: 2,
                shares_total: 3,
                clients: 4,
                uptime_secs: 5,
            })),
            Response::Control(ControlReply::Unseal(UnsealProgress {
                have: 2,
                need: 2,
                unsealed: true,
            })),
            Response::Control(ControlReply::Sealed),
            Response::Control(ControlReply::Refused("duplicate share".into())),
        ]
    }

    #[test]
    fn every_call_kind_is_sampled() {
        let sampled: Vec<&str> = every_call().iter().map(Call::method).collect();
        assert_eq!(sampled, Call::METHODS, "one sample per call, in list order");
        assert!(Call::METHODS.len() >= 50, "{}", Call::METHODS.len());
    }

    #[test]
    fn every_request_round_trips() {
        for (i, req) in every_request().into_iter().enumerate() {
            let id = 1000 + i as u64;
            let frame = encode_frame(id, &req).unwrap();
            let len = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
            assert_eq!(len + LENGTH_FIELD_LEN, frame.len());
            assert_eq!(frame[4], PROTOCOL_VERSION);
            assert_eq!(u64::from_le_bytes(frame[5..13].try_into().unwrap()), id);
            let (got_id, got) = decode_frame::<Request>(&frame).unwrap();
            assert_eq!((got_id, &got), (id, &req));
            // The same through a stream, two frames back to back.
            let mut two = frame.clone();
            two.extend_from_slice(&frame);
            let mut r = Cursor::new(two);
            for _ in 0..2 {
                let (gid, g) = read_frame::<_, Request>(&mut r).unwrap().unwrap();
                assert_eq!((gid, &g), (id, &req));
            }
            assert_eq!(read_frame::<_, Request>(&mut r).unwrap(), None);
        }
    }

    #[test]
    fn responses_round_trip() {
        for (i, resp) in some_responses().into_iter().enumerate() {
            let frame = encode_frame(i as u64, &resp).unwrap();
            let (id, back) = decode_frame::<Response>(&frame).unwrap();
            assert_eq!(id, i as u64);
            assert_eq!(format!("{back:?}"), format!("{resp:?}"));
            assert_eq!(encode_frame(id, &back).unwrap(), frame);
        }
    }

    #[test]
    fn mechanism_info_travels_as_its_number() {
        let info = crate::mechanism::info(CKM_AES_GCM).copied().unwrap();
        let reply = Response::Call(Reply::MechanismInfo(Ok(info)));
        let frame = encode_frame(1, &reply).unwrap();
        let Response::Call(Reply::MechanismInfo(Ok(back))) =
            decode_frame::<Response>(&frame).unwrap().1
        else {
            panic!("wrong reply kind");
        };
        assert_eq!(
            (back.name, back.ty, back.min_key, back.max_key, back.flags),
            (info.name, info.ty, info.min_key, info.max_key, info.flags)
        );
        // The number is the payload's last field: put an unknown one in its place.
        let number = postcard::to_allocvec(&info.ty).unwrap();
        let mut bogus = frame[..frame.len() - number.len()].to_vec();
        bogus.extend_from_slice(&postcard::to_allocvec(&0x7fff_fff0u64).unwrap());
        let n = (bogus.len() - LENGTH_FIELD_LEN) as u32;
        bogus[..LENGTH_FIELD_LEN].copy_from_slice(&n.to_le_bytes());
        assert!(matches!(
            decode_frame::<Response>(&bogus),
            Err(FrameError::Undecodable(_))
        ));
    }

    #[test]
    fn unknown_hash_code_is_refused() {
        let req = Request::Call(Call::DigestInit {
            h: 1,
            mech: Mechanism {
                ty: CKM_SHA256,
                kind: Kind::Digest(HashAlg::Sha256),
            },
        });
        let mut frame = encode_frame(1, &req).unwrap();
        // The hash code is the last byte of this payload.
        let last = frame.len() - 1;
        assert_eq!(frame[last], 3, "SHA-256's code");
        frame[last] = 200;
        assert!(matches!(
            decode_frame::<Request>(&frame),
            Err(FrameError::Undecodable(_))
        ));
    }

    #[test]
    fn every_truncation_is_refused() {
        for req in every_request() {
            let frame = encode_frame(7, &req).unwrap();
            for cut in 0..frame.len() {
                let part = &frame[..cut];
                assert!(
                    matches!(
                        decode_frame::<Request>(part),
                        Err(FrameError::Truncated { .. })
                    ),
                    "{} of {} bytes accepted",
                    cut,
                    frame.len()
                );
                let got = read_frame::<_, Request>(&mut Cursor::new(part));
                if cut == 0 {
                    assert_eq!(got, Ok(None));
                } else {
                    assert!(
                        matches!(got, Err(FrameError::Truncated { .. })),
                        "stream cut at {cut}: {got:?}"
                    );
                }
            }
        }
    }

    /// A reader that yields its bytes and counts how many were asked for.
    struct Counting {
        data: Vec<u8>,
        pos: usize,
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn oversized_and_undersized_lengths_are_refused_before_reading_on() {
        for n in [MAX_FRAME_LEN + 1, u32::MAX] {
            let mut data = n.to_le_bytes().to_vec();
            data.extend_from_slice(&[PROTOCOL_VERSION; 64]);
            let mut r = Counting { data, pos: 0 };
            assert_eq!(
                read_frame::<_, Request>(&mut r),
                Err(FrameError::TooLarge(n))
            );
            assert_eq!(r.pos, LENGTH_FIELD_LEN, "read past the length field");
            assert_eq!(
                decode_frame::<Request>(&n.to_le_bytes()),
                Err(FrameError::TooLarge(n))
            );
        }
        for n in 0..FRAME_HEADER_LEN as u32 {
            let mut data = n.to_le_bytes().to_vec();
            data.extend_from_slice(&[PROTOCOL_VERSION; 16]);
            assert_eq!(
                read_frame::<_, Request>(&mut Counting { data, pos: 0 }),
                Err(FrameError::TooShort(n))
            );
        }
        // The largest length is accepted as a length.
        assert_eq!(
            check_length(MAX_FRAME_LEN.to_le_bytes()),
            Ok(MAX_FRAME_LEN as usize)
        );
    }

    #[test]
    fn wrong_version_is_refused() {
        let mut frame = encode_frame(1, &Request::Control(Control::Status)).unwrap();
        for v in [0u8, PROTOCOL_VERSION + 1, 255] {
            frame[LENGTH_FIELD_LEN] = v;
            assert_eq!(
                decode_frame::<Request>(&frame),
                Err(FrameError::BadVersion(v))
            );
            assert_eq!(
                read_frame::<_, Request>(&mut Cursor::new(frame.clone())),
                Err(FrameError::BadVersion(v))
            );
        }
    }

    #[test]
    fn undecodable_and_trailing_payloads_are_refused() {
        // An unknown request variant.
        let mut frame = encode_frame(1, &Request::Control(Control::Status)).unwrap();
        let at = LENGTH_FIELD_LEN + FRAME_HEADER_LEN;
        frame[at] = 0x7f;
        assert!(matches!(
            decode_frame::<Request>(&frame),
            Err(FrameError::Undecodable(_))
        ));
        // A valid message followed by extra bytes inside the frame.
        let mut frame = encode_frame(1, &Request::Control(Control::Status)).unwrap();
        frame.push(0);
        let n = (frame.len() - LENGTH_FIELD_LEN) as u32;
        frame[..4].copy_from_slice(&n.to_le_bytes());
        assert!(matches!(
            decode_frame::<Request>(&frame),
            Err(FrameError::Undecodable(_))
        ));
        // Bytes after a whole frame in a one-frame buffer.
        let mut frame = encode_frame(1, &Request::Control(Control::Status)).unwrap();
        frame.extend_from_slice(&[1, 2]);
        assert_eq!(
            decode_frame::<Request>(&frame),
            Err(FrameError::TrailingBytes(2))
        );
        // A byte string that claims more bytes than the frame holds.
        let mut frame = encode_frame(
            1,
            &Request::Call(Call::DigestUpdate {
                h: 1,
                data: vec![1, 2, 3],
            }),
        )
        .unwrap();
        let len_at = frame.len() - 4;
        frame[len_at] = 0x7f;
        assert!(matches!(
            decode_frame::<Request>(&frame),
            Err(FrameError::Undecodable(_))
        ));
    }

    #[test]
    fn random_requests_above_the_limit_are_refused_before_the_engine() {
        let big = Call::GenerateRandom {
            h: 1,
            len: MAX_RANDOM_LEN + 1,
        };
        assert_eq!(big.admissible(), Err(Error::ArgumentsBad));
        let ok = Call::GenerateRandom {
            h: 1,
            len: MAX_RANDOM_LEN,
        };
        assert_eq!(ok.admissible(), Ok(()));
        let r = Reply::error_for(&big, Error::ArgumentsBad);
        assert_eq!(r.method(), "generate_random");
        assert!(matches!(
            r.with_error(Error::DataInvalid),
            Reply::GenerateRandom(Err(Error::DataInvalid))
        ));
    }

    #[test]
    fn fuzz_entry_accepts_frames_and_refuses_noise() {
        for req in every_request() {
            assert!(fuzz_frame(&encode_frame(3, &req).unwrap()));
        }
        for resp in some_responses() {
            assert!(fuzz_frame(&encode_frame(4, &resp).unwrap()));
        }
        assert!(!fuzz_frame(&[]));
        assert!(!fuzz_frame(&[0xff; 32]));
    }

    #[test]
    fn mutated_frames_never_panic() {
        // A deterministic xorshift generator: the same mutations on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let frames: Vec<Vec<u8>> = every_request()
            .iter()
            .map(|r| encode_frame(1, r).unwrap())
            .chain(some_responses().iter().map(|r| encode_frame(2, r).unwrap()))
            .collect();
        let mut decoded = 0;
        for round in 0..20_000 {
            let mut f = frames[round % frames.len()].clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % f.len();
                f[at] = next() as u8;
            }
            if next() % 8 == 0 {
                let cut = (next() as usize) % (f.len() + 1);
                f.truncate(cut);
            }
            decoded += usize::from(fuzz_frame(&f));
            let _ = read_frame::<_, Request>(&mut Cursor::new(&f));
        }
        // Some mutations hit only values (still valid), most break the frame.
        assert!(decoded > 0 && decoded < 20_000, "{decoded} decoded");
    }

    #[test]
    fn dispatch_reaches_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        crate::engine::provision::create_dev_store(dir.path(), 2).unwrap();
        let mut config = crate::config::Config::for_store(dir.path());
        config.rollback_witness = false;
        config.shares = vec![dir.path().join(crate::engine::DEV_SHARE_FILE)];
        let engine = Engine::open(config).unwrap();
        match (Call::SlotList {
            token_present: false,
        })
        .dispatch(&engine)
        {
            Reply::SlotList(Ok(v)) => assert_eq!(v, vec![0, 1]),
            other => panic!("{other:?}"),
        }
        match (Call::SessionInfo { h: 99 }).dispatch(&engine) {
            Reply::SessionInfo(Err(Error::SessionHandleInvalid)) => {}
            other => panic!("{other:?}"),
        }
        match (Call::MechanismInfo {
            slot: 0,
            ty: CKM_ECDSA,
        })
        .dispatch(&engine)
        {
            Reply::MechanismInfo(Ok(i)) => assert_eq!(i.ty, CKM_ECDSA),
            other => panic!("{other:?}"),
        }
    }
}
