//! Image sizes per social network.

use super::CardError;
use crate::networks::Network;

/// The shape of a card, which picks its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Height at least 0.87 × width: one column (square and portrait).
    Tall,
    /// Wider than that: a side column and a main panel.
    Wide,
}

/// Output size of a card in pixels. The presets below are the networks'
/// recommended sizes; [`CardSize::custom`] makes any other within
/// [`CardSize::MIN_SIDE`]..=[`CardSize::MAX_SIDE`] and an aspect ratio of at
/// most [`CardSize::MAX_ASPECT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CardSize {
    name: &'static str,
    network: Option<Network>,
    width: u32,
    height: u32,
}

impl CardSize {
    /// Smallest side accepted, in pixels.
    pub const MIN_SIDE: u32 = 200;
    /// Largest side accepted, in pixels (16 Mpx at most: 64 MiB of RGBA).
    pub const MAX_SIDE: u32 = 4096;
    /// Largest ratio of the long side to the short side.
    pub const MAX_ASPECT: f32 = 2.5;

    // The networks' recommended sizes, in one table.
    //
    // * Instagram: Instagram Help Center, "image resolution of photos you
    //   share": feed photos are stored 1080 px wide, with an aspect ratio
    //   between 1.91:1 and 4:5; so 1080×1080 (1:1) and, for the most feed
    //   space, 1080×1350 (4:5 portrait).
    // * Facebook: Meta for Developers, "Images in Link Shares"
    //   (developers.facebook.com/docs/sharing/webmasters/images): "use images
    //   that are at least 1200 x 630 pixels for the best display on high
    //   resolution devices", keeping close to 1.91:1 to avoid cropping.
    // * X: X shows a single in-timeline image at 16:9 uncropped; X publishes
    //   no pixel figure for organic posts, and 1600×900 (16:9) is the size
    //   its business guides and the usual size charts recommend (1200×675
    //   is the same ratio).
    // * Telegram: the Bot API's sendPhoto limits (width + height ≤ 10000,
    //   ratio ≤ 20, ≤ 10 MB); clients scale photos to 1280 px on the long
    //   side, so 1280×720 (16:9) is sent without resampling.
    // * YouTube: YouTube Help, "Add video thumbnails": 1280×720 (16:9),
    //   at least 640 px wide, under 2 MB.

    /// Instagram feed, square: 1080×1080.
    pub const INSTAGRAM_SQUARE: CardSize =
        CardSize::preset("instagram_square", Network::Instagram, 1080, 1080);
    /// Instagram feed, portrait 4:5: 1080×1350.
    pub const INSTAGRAM_PORTRAIT: CardSize =
        CardSize::preset("instagram_portrait", Network::Instagram, 1080, 1350);
    /// Facebook link and feed image, 1.91:1: 1200×630.
    pub const FACEBOOK: CardSize = CardSize::preset("facebook", Network::Facebook, 1200, 630);
    /// X in-timeline image, 16:9: 1600×900.
    pub const X: CardSize = CardSize::preset("x", Network::X, 1600, 900);
    /// Telegram photo, 16:9: 1280×720.
    pub const TELEGRAM: CardSize = CardSize::preset("telegram", Network::Telegram, 1280, 720);
    /// YouTube thumbnail or community image, 16:9: 1280×720.
    pub const YOUTUBE: CardSize = CardSize::preset("youtube", Network::YouTube, 1280, 720);

    /// Every preset.
    pub const ALL: [CardSize; 6] = [
        CardSize::INSTAGRAM_SQUARE,
        CardSize::INSTAGRAM_PORTRAIT,
        CardSize::FACEBOOK,
        CardSize::X,
        CardSize::TELEGRAM,
        CardSize::YOUTUBE,
    ];

    /// The sizes documented for `network`, the preferred one first.
    pub fn for_network(network: Network) -> impl Iterator<Item = CardSize> {
        CardSize::ALL
            .into_iter()
            .filter(move |s| s.network == Some(network))
    }

    /// The size to use for `network` when nothing else is asked for.
    pub fn preferred(network: Network) -> CardSize {
        match network {
            Network::Instagram => CardSize::INSTAGRAM_SQUARE,
            Network::Facebook => CardSize::FACEBOOK,
            Network::X => CardSize::X,
            Network::Telegram => CardSize::TELEGRAM,
            Network::YouTube => CardSize::YOUTUBE,
        }
    }

    const fn preset(name: &'static str, network: Network, width: u32, height: u32) -> CardSize {
        CardSize {
            name,
            network: Some(network),
            width,
            height,
        }
    }

    /// A size of one's own, named `custom`.
    pub fn custom(width: u32, height: u32) -> Result<CardSize, CardError> {
        let size = CardSize {
            name: "custom",
            network: None,
            width,
            height,
        };
        size.validate()?;
        Ok(size)
    }

    /// A preset by its name (`instagram_square`, `facebook`, …).
    pub fn by_name(name: &str) -> Option<CardSize> {
        CardSize::ALL.into_iter().find(|s| s.name == name)
    }

    /// Stable name: the preset's, or `custom`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The network this preset is for; `None` for a custom size.
    pub fn network(&self) -> Option<Network> {
        self.network
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Which layout the size gets.
    pub fn orientation(&self) -> Orientation {
        if (self.height as f32) >= 0.87 * (self.width as f32) {
            Orientation::Tall
        } else {
            Orientation::Wide
        }
    }

    /// Checks the bounds; [`super::render`] calls it for every size.
    pub(crate) fn validate(&self) -> Result<(), CardError> {
        let (w, h) = (self.width, self.height);
        let sides_ok = (Self::MIN_SIDE..=Self::MAX_SIDE).contains(&w)
            && (Self::MIN_SIDE..=Self::MAX_SIDE).contains(&h);
        let (long, short) = (w.max(h) as f32, w.min(h).max(1) as f32);
        if sides_ok && long / short <= Self::MAX_ASPECT {
            Ok(())
        } else {
            Err(CardError::BadSize {
                width: w,
                height: h,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_named_uniquely() {
        let mut names: Vec<_> = CardSize::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CardSize::ALL.len());
        for s in CardSize::ALL {
            s.validate().unwrap();
            assert_eq!(CardSize::by_name(s.name()), Some(s));
        }
        for n in [
            Network::Instagram,
            Network::Facebook,
            Network::X,
            Network::Telegram,
            Network::YouTube,
        ] {
            assert_eq!(
                CardSize::for_network(n).next(),
                Some(CardSize::preferred(n))
            );
        }
        assert_eq!(CardSize::for_network(Network::Instagram).count(), 2);
    }

    #[test]
    fn custom_sizes_are_bounded() {
        assert!(CardSize::custom(800, 800).is_ok());
        assert_eq!(CardSize::custom(800, 800).unwrap().network(), None);
        for (w, h) in [(0, 0), (199, 400), (5000, 4000), (4096, 1000), (100_000, 1)] {
            assert!(
                matches!(CardSize::custom(w, h), Err(CardError::BadSize { .. })),
                "{w}x{h}"
            );
        }
        assert_eq!(
            CardSize::INSTAGRAM_PORTRAIT.orientation(),
            Orientation::Tall
        );
        assert_eq!(CardSize::FACEBOOK.orientation(), Orientation::Wide);
    }
}
