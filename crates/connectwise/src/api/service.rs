use crate::client::{Client, PageMode};
use crate::conditions::{Conditions, Query, quote};
use crate::error::CwError;
use crate::models::{Board, BoardItem, BoardStatus, BoardSubtype, BoardType, Priority, Source};

/// A setup record a user picks (a board, type, subtype, item, priority or source): id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// ConnectWise's record id of the chosen record; what settings store.
    pub id: i64,
    /// The record's name, as pick-lists show it.
    pub name: String,
}

/// Records with an id and a name as [`Choice`]s, in the order given.
fn choices<T>(items: Vec<T>, f: impl Fn(T) -> Option<(i64, String)>) -> Vec<Choice> {
    items
        .into_iter()
        .filter_map(|x| f(x).map(|(id, name)| Choice { id, name }))
        .collect()
}

/// A status a ticket on a board can be moved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChoice {
    /// ConnectWise's record id of the status; what settings store.
    pub id: i64,
    /// The status's name, as pick-lists show it.
    pub name: String,
    /// Moving a ticket to it closes the ticket.
    pub closed: bool,
}

impl Client {
    /// The active service boards.
    pub async fn board_choices(&self) -> Result<Vec<Choice>, CwError> {
        Ok(choices(self.boards().await?, |b| {
            (b.inactive_flag != Some(true)).then_some(())?;
            Some((b.id?, b.name?))
        }))
    }

    /// The active ticket types of a board.
    pub async fn board_type_choices(&self, board_id: i64) -> Result<Vec<Choice>, CwError> {
        Ok(choices(self.board_types(board_id).await?, |t| {
            (t.inactive_flag != Some(true)).then_some(())?;
            Some((t.id?, t.name?))
        }))
    }

    /// The active ticket subtypes of a board.
    pub async fn board_subtype_choices(&self, board_id: i64) -> Result<Vec<Choice>, CwError> {
        Ok(choices(self.board_subtypes(board_id).await?, |t| {
            (t.inactive_flag != Some(true)).then_some(())?;
            Some((t.id?, t.name?))
        }))
    }

    /// The active ticket items of a board.
    pub async fn board_item_choices(&self, board_id: i64) -> Result<Vec<Choice>, CwError> {
        Ok(choices(self.board_items(board_id).await?, |t| {
            (t.inactive_flag != Some(true)).then_some(())?;
            Some((t.id?, t.name?))
        }))
    }

    /// The ticket priorities, as ConnectWise lists them.
    pub async fn priority_choices(&self) -> Result<Vec<Choice>, CwError> {
        Ok(choices(self.priorities().await?, |p| {
            Some((p.id?, p.name?))
        }))
    }

    /// The ticket priorities, most urgent first (by their sort order).
    pub async fn priorities_by_urgency(&self) -> Result<Vec<Choice>, CwError> {
        let mut prios = self.priorities().await?;
        prios.sort_by_key(|p| (p.sort_order.unwrap_or(i64::MAX), p.id));
        Ok(choices(prios, |p| Some((p.id?, p.name?))))
    }

    /// The ticket sources.
    pub async fn source_choices(&self) -> Result<Vec<Choice>, CwError> {
        Ok(choices(self.sources().await?, |s| Some((s.id?, s.name?))))
    }

    /// The active statuses of a board (with an id and a name), in the board's sort order.
    pub async fn board_status_choices(&self, board_id: i64) -> Result<Vec<StatusChoice>, CwError> {
        let mut statuses: Vec<BoardStatus> = self
            .board_statuses(board_id)
            .await?
            .into_iter()
            .filter(|s| s.inactive != Some(true))
            .collect();
        statuses.sort_by_key(|s| (s.sort_order.unwrap_or(i64::MAX), s.id));
        Ok(statuses
            .into_iter()
            .filter_map(|s| {
                Some(StatusChoice {
                    id: s.id?,
                    name: s.name?,
                    closed: s.closed_status == Some(true),
                })
            })
            .collect())
    }

    async fn list_small<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: String,
    ) -> Result<Vec<T>, CwError> {
        self.collect(self.stream(path, Query::new(), PageMode::Navigable))
            .await
    }

    /// Every service board, inactive ones included.
    pub async fn boards(&self) -> Result<Vec<Board>, CwError> {
        self.list_small("service/boards".into()).await
    }

    /// The service board with this record id; [`CwError::NotFound`] when there is none.
    pub async fn board(&self, id: i64) -> Result<Board, CwError> {
        self.get(&format!("service/boards/{id}"), Vec::new()).await
    }

    /// Every status of a board, inactive ones included, in ConnectWise's order.
    pub async fn board_statuses(&self, board_id: i64) -> Result<Vec<BoardStatus>, CwError> {
        self.list_small(format!("service/boards/{board_id}/statuses"))
            .await
    }

    /// Every ticket type of a board, inactive ones included.
    pub async fn board_types(&self, board_id: i64) -> Result<Vec<BoardType>, CwError> {
        self.list_small(format!("service/boards/{board_id}/types"))
            .await
    }

    /// Every ticket subtype of a board, inactive ones included.
    pub async fn board_subtypes(&self, board_id: i64) -> Result<Vec<BoardSubtype>, CwError> {
        self.list_small(format!("service/boards/{board_id}/subtypes"))
            .await
    }

    /// Every ticket item of a board, inactive ones included.
    pub async fn board_items(&self, board_id: i64) -> Result<Vec<BoardItem>, CwError> {
        self.list_small(format!("service/boards/{board_id}/items"))
            .await
    }

    /// Every ticket priority (`service/priorities`).
    pub async fn priorities(&self) -> Result<Vec<Priority>, CwError> {
        self.list_small("service/priorities".into()).await
    }

    /// Every ticket source (`service/sources`).
    pub async fn sources(&self) -> Result<Vec<Source>, CwError> {
        self.list_small("service/sources".into()).await
    }

    /// Create a ticket source (e.g. "Sophos Central"); found again by name after an ambiguous failure.
    pub async fn create_source(&self, source: &Source) -> Result<Source, CwError> {
        let Some(name) = source.name.clone().filter(|n| quote(n).is_some()) else {
            return self.post("service/sources", source).await;
        };
        self.create_with_lookup("service/sources", source, || {
            let name = name.clone();
            async move {
                let found: Vec<Source> = self
                    .collect(self.stream(
                        "service/sources".into(),
                        Conditions::new().eq("name", name.as_str()).into(),
                        PageMode::Navigable,
                    ))
                    .await?;
                Ok(found.into_iter().find(|s| {
                    s.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                }))
            }
        })
        .await
    }
}
