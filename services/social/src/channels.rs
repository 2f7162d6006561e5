//! Channels: a network account and its sealed token, and the client that
//! publishes to it.

use crate::config::NetworksConfig;
use crate::credentials::{channel_aad, Keyring, Sealed};
use crate::limits::Surface;
use crate::networks::{
    Facebook, FacebookPage, Instagram, InstagramAccount, Network, Publisher, Telegram,
    TelegramChannel, XAccount, YouTube, YouTubeChannel, X,
};
use platform::AppError;
use secrecy::SecretString;
use std::sync::Arc;
use uuid::Uuid;

/// What the publisher needs of a channel row.
#[derive(Clone, Debug)]
pub struct ChannelRow {
    pub id: Uuid,
    pub network: Network,
    pub name: String,
    pub account_id: String,
    pub credentials: Sealed,
    pub language: String,
    pub hashtags: Vec<String>,
    pub auto_approve: bool,
    pub enabled: bool,
    pub status: String,
    pub status_reason: Option<String>,
}

pub fn parse_network(s: &str) -> Option<Network> {
    Some(match s {
        "facebook" => Network::Facebook,
        "instagram" => Network::Instagram,
        "x" => Network::X,
        "youtube" => Network::YouTube,
        "telegram" => Network::Telegram,
        _ => return None,
    })
}

/// Where a post's text goes on `network` (with an image or video, or without).
pub fn surface(network: Network, with_media: bool) -> Surface {
    match network {
        Network::Facebook => Surface::Facebook,
        Network::Instagram => Surface::Instagram,
        Network::X => Surface::X,
        Network::YouTube => Surface::YouTubeDescription,
        Network::Telegram if with_media => Surface::TelegramCaption,
        Network::Telegram => Surface::TelegramMessage,
    }
}

/// Checks the account id the way the network's client will, so a bad one is
/// refused when the channel is saved rather than when it first publishes.
pub fn check_account(network: Network, account_id: &str) -> Result<(), AppError> {
    let token = SecretString::from("check".to_owned());
    build(&NetworksConfig::default(), network, account_id, token)
        .map(|_| ())
        .map_err(|e| AppError::validation("account_id", e.to_string()))
}

fn build(
    cfg: &NetworksConfig,
    network: Network,
    account_id: &str,
    token: SecretString,
) -> anyhow::Result<Arc<dyn Publisher>> {
    let id = account_id.to_owned();
    Ok(match network {
        Network::Facebook => Arc::new(Facebook::new(
            &cfg.facebook,
            FacebookPage {
                page_id: id,
                access_token: token,
            },
        )?),
        Network::Instagram => Arc::new(Instagram::new(
            &cfg.instagram,
            InstagramAccount {
                ig_user_id: id,
                access_token: token,
            },
        )?),
        Network::X => Arc::new(X::new(
            &cfg.x,
            XAccount {
                user_id: id,
                access_token: token,
            },
        )?),
        Network::YouTube => Arc::new(YouTube::new(
            &cfg.youtube,
            YouTubeChannel {
                access_token: token,
            },
        )?),
        Network::Telegram => Arc::new(Telegram::new(
            &cfg.telegram,
            TelegramChannel {
                chat_id: id,
                bot_token: token,
            },
        )?),
    })
}

/// The client of `channel`, its token opened with the keyring.
pub fn publisher(
    cfg: &NetworksConfig,
    keyring: &Keyring,
    channel: &ChannelRow,
) -> Result<Arc<dyn Publisher>, AppError> {
    let token = keyring
        .open_secret(&channel.credentials, &channel_aad(&channel.id.to_string()))
        .map_err(|e| {
            AppError::internal(anyhow::anyhow!(
                "channel {}: its credentials cannot be opened: {e}",
                channel.id
            ))
        })?;
    build(cfg, channel.network, &channel.account_id, token).map_err(AppError::internal)
}

/// Seals a token for `channel_id`.
pub fn seal(keyring: &Keyring, channel_id: Uuid, token: &str) -> Result<Sealed, AppError> {
    keyring
        .seal(token.as_bytes(), &channel_aad(&channel_id.to_string()))
        .map_err(|e| AppError::internal(anyhow::anyhow!("sealing credentials: {e}")))
}
